// cfutures/shared_buffer.hpp — an array in memory shared between processes, passed to and
// from process-pool calls without copying it.
//
// What: shared_buffer<T> (T trivially copyable) is a handle to n elements of T in a memfd
// that every process holding a handle maps:
//   shared_buffer<double> e;                               // empty, like shared_buffer(0)
//   shared_buffer<double> b(n);                            // n zero-initialised elements
//   auto b = shared_buffer<double>::from(std::span<const double>(v));   // one copy in
//   b.data(); b.size(); b.empty(); b.span(); b[i]; b.begin(); b.end();
// A copy is another handle to the same memory (like std::shared_ptr; constness is the
// handle's, not the elements'). Passed to a process-pool call, or returned from one, it
// crosses as a descriptor, not as bytes (a result that is a buffer the call was given
// crosses back as a name only: the caller holds it still): the other process maps the
// same memory, so writes on either side are seen on the other (ordering them is the
// caller's job, e.g. by waiting for the call). It crosses the same way as a member of a
// struct (its serialize() names it, as any member) and inside containers (a vector of
// them, a tuple, an optional...). The thread pool passes the handle itself; the MPI
// executor sends its bytes as one contiguous message, and the receiving rank gets a
// shared_buffer of its own (not shared with the sender) that it can pass on to its own
// process pools without copying.
// Lifetime: the memory is freed when the last handle in any process is gone: the kernel
// counts the processes holding it, so a worker that is killed while holding handles leaks
// nothing, and so does a pool that is destroyed. A process-pool worker keeps the mapping of
// a buffer it was sent between calls (so that many calls over one buffer map it once) only
// while a handle to it lives in another process. With start_method::fork a worker does not
// inherit the buffers of its parent: it sees those it is sent, as with spawn. The executor
// holds a call's arguments until its message is released, which can be a moment after the
// call's future completes: a buffer whose last handle went into a call may stay mapped in
// the caller briefly after result() returns (as CPython's work item holds its arguments).
//
// Thread safety: as std::shared_ptr: distinct handles (copies) may be used from any threads
// at once; the elements are plain memory, whose concurrent writes the user orders.
// Blocking: never (creating one maps memory; from() copies the values once).
// Throws: the constructor and from() throw cfutures::error when the system refuses the
//   memory (memfd, mmap), std::length_error when n elements do not fit in memory's size.
//   Serialized anywhere but as an argument or result of a cfutures executor's call (say
//   with a user's own cereal archive) it throws cfutures::error; a received buffer whose
//   memory is missing or smaller than announced fails its call with protocol_error.
// Python counterpart: multiprocessing.shared_memory.SharedMemory (with a NumPy array over
//   its buffer); Ray's object store (ray.put) and Dask's scatter(broadcast=True) in
//   spirit (docs/python-mapping.md).
// Deviations: no name, and nothing to unlink or close: the memory lives exactly as long as
//   its handles. Its size is fixed at creation. Only trivially copyable element types (a
//   compile-time error names any other): the memory is shared as bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <stdexcept>
#include <type_traits>

#include "cfutures/detail/ref_ptr.hpp"
#include "cfutures/detail/shared_region.hpp"
#include "cfutures/errors.hpp"

namespace cfutures {

template <class T>
class shared_buffer {
  static_assert(std::is_trivially_copyable_v<T> && !std::is_const_v<T> &&
                    !std::is_volatile_v<T> && !std::is_pointer_v<T>,
                "cfutures: shared_buffer<T> needs a trivially copyable, non-pointer T (its "
                "memory is shared between processes as bytes: no std::string, std::vector or "
                "pointers inside). The type is named in the 'required from' line of this error.");
  static_assert(alignof(T) <= 4096, "cfutures: shared_buffer<T> aligns its elements to a page");

 public:
  using value_type = T;
  using size_type = std::size_t;
  using iterator = T*;
  using const_iterator = const T*;

  // An empty buffer (no memory).
  shared_buffer() noexcept = default;
  // n zero-initialised elements in new shared memory (n == 0: empty).
  explicit shared_buffer(std::size_t n) {
    if (n == 0) return;
    if (n > std::numeric_limits<std::size_t>::max() / sizeof(T)) {
      throw std::length_error("cfutures::shared_buffer: too many elements");
    }
    region_ = detail::shared_region::create(n * sizeof(T));
    data_ = reinterpret_cast<T*>(region_->data());
    size_ = n;
  }
  // A new buffer holding a copy of `values`.
  static shared_buffer from(std::span<const T> values) {
    shared_buffer b(values.size());
    if (!values.empty()) std::memcpy(b.data_, values.data(), values.size_bytes());
    return b;
  }

  // The first element (null when empty).
  T* data() const noexcept { return data_; }
  // The number of elements.
  std::size_t size() const noexcept { return size_; }
  // Whether it has no elements.
  bool empty() const noexcept { return size_ == 0; }
  // The elements, as a span.
  std::span<T> span() const noexcept { return {data_, size_}; }
  // Element i (unchecked, as std::vector's).
  T& operator[](std::size_t i) const noexcept { return data_[i]; }
  // Iterators over the elements.
  T* begin() const noexcept { return data_; }
  T* end() const noexcept { return data_ + size_; }

  // cereal's hooks, used by the executors (see Throws): the handle, not the elements.
  template <class Archive>
  void save(Archive& ar) const {
    if (!region_) {
      ar(no_memory, std::uint64_t{0});
      return;
    }
    const detail::region_links& links = detail::current_region_links;
    if (links.out == nullptr) {
      throw error("cfutures::shared_buffer can only be serialized as an argument or result "
                  "of a cfutures executor's call");
    }
    auto* out = &links.out(links.owner);
    std::uint64_t index = 0;
    while (index < out->size() && (*out)[index].get() != region_.get()) ++index;
    if (index == out->size()) out->push_back(region_);
    ar(index, static_cast<std::uint64_t>(size_));
  }
  // The other hook: rebuilds the handle from memory received with the value.
  template <class Archive>
  void load(Archive& ar) {
    std::uint64_t index = 0;
    std::uint64_t count = 0;
    ar(index, count);
    if (index == no_memory) {
      if (count != 0) throw protocol_error("bad shared buffer: elements without memory");
      *this = shared_buffer();
      return;
    }
    const auto* in = detail::current_region_links.in;
    if (in == nullptr || index >= in->size()) {
      throw protocol_error("bad shared buffer: its memory did not come with the value");
    }
    const auto& region = (*in)[static_cast<std::size_t>(index)];
    if (count == 0 || count > region->size() / sizeof(T)) {
      throw protocol_error("bad shared buffer: more elements than its memory holds");
    }
    region_ = region;
    data_ = reinterpret_cast<T*>(region_->data());
    size_ = static_cast<std::size_t>(count);
  }

 private:
  static constexpr std::uint64_t no_memory = ~std::uint64_t{0};

  detail::ref_ptr<detail::shared_region> region_;
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace cfutures
