// A shared_buffer shares its memory as bytes: elements that own memory elsewhere (a
// std::string's characters) cannot be shared.
#include <cfutures/shared_buffer.hpp>
#include <string>

int main() {
  cfutures::shared_buffer<std::string> names(3);
  return static_cast<int>(names.size());
}
