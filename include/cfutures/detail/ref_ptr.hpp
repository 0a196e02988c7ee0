// Internal: an intrusive reference-counted pointer to a shared state (one allocation per
// task: the count lives in the state itself). S provides add_ref() and release().
#pragma once

#include <cstddef>
#include <utility>

namespace cfutures::detail {

template <class S>
class ref_ptr {
 public:
  ref_ptr() noexcept = default;
  // Takes over a reference the caller already owns.
  static ref_ptr adopt(S* p) noexcept {
    ref_ptr r;
    r.p_ = p;
    return r;
  }
  // Adds a reference of its own.
  static ref_ptr share(S* p) noexcept {
    if (p) p->add_ref();
    return adopt(p);
  }

  ref_ptr(const ref_ptr& o) noexcept : p_(o.p_) {
    if (p_) p_->add_ref();
  }
  ref_ptr(ref_ptr&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  template <class U>
  ref_ptr(ref_ptr<U> o) noexcept : p_(o.detach()) {}  // NOLINT: implicit upcast, as shared_ptr
  ref_ptr& operator=(ref_ptr o) noexcept {
    std::swap(p_, o.p_);
    return *this;
  }
  ~ref_ptr() {
    if (p_) p_->release();
  }

  S* get() const noexcept { return p_; }
  S* operator->() const noexcept { return p_; }
  S& operator*() const noexcept { return *p_; }
  explicit operator bool() const noexcept { return p_ != nullptr; }
  S* detach() noexcept { return std::exchange(p_, nullptr); }

 private:
  S* p_ = nullptr;
};

}  // namespace cfutures::detail
