#include "mxegress/config/key_suggestion.h"

#include <algorithm>
#include <vector>

namespace mx {
namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

size_t key_edit_distance(std::string_view a, std::string_view b) {
  // Three rows of the usual table: the one before the previous for swaps.
  std::vector<size_t> before(b.size() + 1), previous(b.size() + 1), current(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
          lower(a[i - 2]) == lower(b[j - 1])) {
        current[j] = std::min(current[j], before[j - 2] + 1);
      }
    }
    std::swap(before, previous);
    std::swap(previous, current);
  }
  return previous[b.size()];
}

std::optional<std::string> nearest_known_key(std::string_view unknown,
                                             const std::set<std::string, std::less<>>& known) {
  const size_t allowed = std::min<size_t>(2, std::max<size_t>(1, unknown.size() / 3));
  std::optional<std::string> best;
  size_t best_distance = allowed + 1;
  for (const std::string& key : known) {
    // Lengths further apart than the allowance cannot be close enough.
    const size_t gap =
        key.size() > unknown.size() ? key.size() - unknown.size() : unknown.size() - key.size();
    if (gap > allowed) continue;
    if (const size_t distance = key_edit_distance(unknown, key); distance < best_distance) {
      best_distance = distance;
      best = key;
    }
  }
  return best;
}

}  // namespace mx
