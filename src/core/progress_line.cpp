// What one progress line says (detail/progress_bar.hpp): tqdm's layout.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "cfutures/detail/progress_bar.hpp"

namespace cfutures::detail {
namespace {

// "01:05", or "1:02:03" past an hour; "?" when unknown.
std::string clock_text(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<long long>(seconds);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%02lld:%02lld", s / 60, s % 60);
  }
  return buf;
}

std::string rate_text(std::size_t n, double seconds) {
  if (n == 0 || seconds <= 0) return "? it/s";
  const double rate = static_cast<double>(n) / seconds;
  char buf[48];
  if (rate >= 1) {
    std::snprintf(buf, sizeof buf, "%.2f it/s", rate);
  } else {
    std::snprintf(buf, sizeof buf, "%.2f s/it", 1 / rate);
  }
  return buf;
}

// The bar: `cells` columns, full blocks then a partial one (eighths), then spaces.
std::string bar_text(double fraction, std::size_t cells) {
  static const char* const eighths[] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};
  const double filled = fraction * static_cast<double>(cells);
  const auto full = static_cast<std::size_t>(filled);
  std::string out;
  for (std::size_t i = 0; i < full && i < cells; ++i) out += "█";
  std::size_t used = full < cells ? full : cells;
  if (used < cells) {
    const auto part = static_cast<int>((filled - static_cast<double>(full)) * 8);
    if (part > 0) {
      out += eighths[part];
      ++used;
    }
  }
  out.append(cells - used, ' ');
  return out;
}

}  // namespace

std::string progress_line(const progress_snapshot& s, std::size_t width) {
  const double seconds = s.elapsed.count();
  const std::string prefix = s.description.empty() ? "" : std::string(s.description) + ": ";
  std::string suffix;
  if (!s.stopped.empty()) suffix = " stopped: " + std::string(s.stopped);

  if (!s.total) {
    return prefix + std::to_string(s.n) + " [" + clock_text(seconds) + ", " +
           rate_text(s.n, seconds) + "]" + suffix;
  }
  const std::size_t total = *s.total;
  const double fraction =
      total == 0 ? 1.0 : std::min(1.0, static_cast<double>(s.n) / static_cast<double>(total));
  char percent[8];
  std::snprintf(percent, sizeof percent, "%3d%%", static_cast<int>(fraction * 100));
  const double left = s.n == 0 || s.n >= total
                          ? (s.n >= total ? 0.0 : NAN)
                          : seconds / static_cast<double>(s.n) * static_cast<double>(total - s.n);
  const std::string counts = " " + std::to_string(s.n) + "/" + std::to_string(total) + " [" +
                             clock_text(seconds) + "<" + clock_text(left) + ", " +
                             rate_text(s.n, seconds) + "]";
  // The bar takes the columns left over (10 at least, none if even that does not fit).
  const std::size_t fixed = prefix.size() + 4 + 2 + counts.size() + suffix.size();
  std::string bar = "|";
  if (width >= fixed + 10) {
    bar += bar_text(fraction, width - fixed) + "|";
  } else {
    bar.clear();
  }
  return prefix + percent + bar + counts + suffix;
}

}  // namespace cfutures::detail
