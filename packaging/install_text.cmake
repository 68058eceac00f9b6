# Runs at install time (`cmake --install`, also under scripts/package), so that
# `--prefix` and DESTDIR are honoured. Installs one text file with the paths
# the sources name (/usr/local/sbin, /usr/local/bin, /etc/mxegress,
# /usr/share/doc) rewritten for the prefix. Set by the caller:
#   MX_SOURCE     the file (a unit of systemd/)
#   MX_DEST       where it goes: an absolute directory, one relative to the prefix,
#                 or one under @ETC@ (/etc for the prefix /usr, else PREFIX/etc)
#   MX_KEEP       ON: leave a file that is already there alone (a configuration
#                 the operator may have edited)
#   MX_STAGED     a directory of the build tree for the rewritten copy
set(prefix "${CMAKE_INSTALL_PREFIX}")
if(prefix STREQUAL "/usr")
  set(etc "/etc")
else()
  set(etc "${prefix}/etc")
endif()
string(REPLACE "@ETC@" "${etc}" dest "${MX_DEST}")
if(NOT IS_ABSOLUTE "${dest}")
  set(dest "${prefix}/${dest}")
endif()
get_filename_component(name "${MX_SOURCE}" NAME)
if(MX_KEEP AND EXISTS "$ENV{DESTDIR}${dest}/${name}")
  message(STATUS "Kept (already there): $ENV{DESTDIR}${dest}/${name}")
  return()
endif()

file(READ "${MX_SOURCE}" text)
string(REPLACE "/usr/local/sbin/" "${prefix}/sbin/" text "${text}")
string(REPLACE "/usr/local/bin/" "${prefix}/bin/" text "${text}")
string(REPLACE "/etc/mxegress/" "${etc}/mxegress/" text "${text}")
string(REPLACE "/usr/share/doc/" "${prefix}/share/doc/" text "${text}")
file(MAKE_DIRECTORY "${MX_STAGED}")
file(WRITE "${MX_STAGED}/${name}" "${text}")
file(INSTALL DESTINATION "${dest}" TYPE FILE
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
     FILES "${MX_STAGED}/${name}")
