// When and where progress() draws (detail/progress_bar.hpp): in place on a terminal at most
// 10 times a second, plain lines elsewhere at most once a second, and a last line at the end.
#include "cfutures/detail/progress_bar.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <exception>
#include <string>

namespace cfutures::detail {
namespace {

bool is_terminal(std::FILE* out) {
  const int fd = fileno(out);
  return fd >= 0 && isatty(fd) == 1;
}

// The terminal's width in columns (TIOCGWINSZ), 80 when it does not say.
std::size_t terminal_width(std::FILE* out) {
  winsize size{};
  const int fd = fileno(out);
  if (fd >= 0 && ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  return 80;
}

// Cuts `line` to `columns` (counting UTF-8 characters, not their continuation bytes).
void fit(std::string& line, std::size_t columns) {
  std::size_t seen = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    if ((static_cast<unsigned char>(line[i]) & 0xC0) == 0x80) continue;
    if (seen++ == columns) {
      line.resize(i);
      return;
    }
  }
}

}  // namespace

progress_bar::progress_bar(std::string description, std::optional<std::size_t> total,
                           std::FILE* out)
    : description_(std::move(description)),
      total_(total),
      out_(out),
      terminal_(out != nullptr && is_terminal(out)),
      interval_(terminal_ ? clock::duration(std::chrono::milliseconds(100))
                          : clock::duration(std::chrono::seconds(1))),
      started_(clock::now()) {}

void progress_bar::start() {
  started_ = clock::now();
  draw(false, {});
}

void progress_bar::step() {
  ++n_;
  if (closed_) return;
  if (clock::now() - drawn_ >= interval_) draw(false, {});
}

void progress_bar::close(std::string_view stopped) noexcept {
  if (closed_) return;
  try {
    draw(true, stopped);
  } catch (...) {  // a line that cannot be drawn (out of memory) is not worth an exception
  }
  closed_ = true;
}

void progress_bar::draw(bool last, std::string_view stopped) {
  if (out_ == nullptr) return;
  const auto now = clock::now();
  drawn_ = now;
  const progress_snapshot s{description_, n_, total_, now - started_, stopped};
  // A terminal's last column would wrap the line: leave it free.
  const std::size_t width = terminal_ ? terminal_width(out_) - 1 : 80;
  std::string line = progress_line(s, width);
  if (terminal_) {
    fit(line, width);
    line = "\r" + line + "\x1b[K";
    if (last) line += "\n";
  } else {
    line += "\n";
  }
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fflush(out_);
}

}  // namespace cfutures::detail
