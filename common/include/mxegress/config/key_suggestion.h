// "did you mean" for an unknown configuration key: the nearest key the same
// table knows, when it is close enough to be a typo.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace mx {

// Edit distance counting an insertion, a deletion, a substitution or a swap
// of two neighbours as one edit (Damerau-Levenshtein, optimal string
// alignment), compared without regard to ASCII case.
size_t key_edit_distance(std::string_view a, std::string_view b);

// The known key nearest to `unknown` if it is at most two edits away and at
// most a third of `unknown`'s length (at least one edit), so that a short key
// is not "corrected" into an unrelated one; ties go to the first in order.
std::optional<std::string> nearest_known_key(std::string_view unknown,
                                             const std::set<std::string, std::less<>>& known);

}  // namespace mx
