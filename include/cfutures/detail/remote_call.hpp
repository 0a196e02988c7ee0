// Internal: a call turned into bytes in one process and run from them in another — the
// remote-execution layer shared by process_pool_executor and the MPI executor.
//
// Identity of the code: a call is identified by two code addresses, its *invoker* (an
// instantiation of invoke_serialized for the call's function type, argument and result
// types) and, for plain function pointers, the function itself. Addresses travel as
// (module name, offset from the module's load address), so they survive fork, exec and ASLR
// as long as the worker runs the same binary. A worker only calls an invoker that registered
// itself at static initialisation (so a forged message cannot make it jump anywhere), and
// only a function address that lies in executable code of its module.
//
// Arguments are serialized with cereal at submit time, in the submitting thread, into a
// payload (payload.hpp: shared memory once large); the result (or exception) comes back as
// bytes and is decoded into the future's shared state.
#pragma once

#include <cstdint>
#include <exception>
#include <istream>
#include <memory>
#include <ostream>
#include <streambuf>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "cfutures/detail/payload.hpp"
#include "cfutures/detail/shared_state.hpp"
#include "cfutures/errors.hpp"
#include "cfutures/serialization.hpp"

namespace cfutures::detail {

// A code address that means the same in every process running this binary.
struct code_ref {
  std::string module;  // "" for the main program, else the shared object's path
  std::uint64_t offset = 0;
};

code_ref portable_address(const void* code);
// Throws protocol_error unless `ref` names executable code of a loaded module.
const void* local_address(const code_ref& ref);

// Reads the arguments from `in` (then gives its bytes back: in.consumed()), calls the
// function, writes the result to `out`. Exceptions of the call propagate.
using invoker = void (*)(const void* fn, const encoded_input& in, payload& out);

bool register_invoker(invoker entry) noexcept;
bool is_registered_invoker(invoker entry) noexcept;

// Public since issue 15 (<cfutures/errors.hpp>); the internal name stays for src/.
using protocol_error = cfutures::protocol_error;

// std::streambuf appending to a payload (writing; memory_source, for reading, is in
// direct_read.hpp).
class payload_sink : public std::streambuf {
 public:
  explicit payload_sink(payload& out) : out_(out) {}

 protected:
  int_type overflow(int_type c) override {
    if (!traits_type::eq_int_type(c, traits_type::eof()))
      out_.push_back(traits_type::to_char_type(c));
    return traits_type::not_eof(c);
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    out_.append(s, static_cast<std::size_t>(n));
    return n;
  }

 private:
  payload& out_;
};

// shared_buffers in the values add their memory to out.regions().
template <class... T>
void write_values(payload& out, const T&... values) {
  const region_links_scope links({&payload::regions_to_add, &out});
  payload_sink sink(out);
  std::ostream os(&sink);
  cereal::BinaryOutputArchive archive(os);
  archive(values...);
}

// Runs read(archive) on a cereal archive over `in`, in direct-read mode (direct_read.hpp:
// strings and contiguous vectors in one copy, every size bounded by the bytes left); a
// cereal error becomes protocol_error.
// `regions`: the memory of the shared_buffers the bytes name (none: a shared_buffer in them
// fails with protocol_error).
template <class Read>
void decode_from(std::string_view in, Read&& read, const region_list* regions = nullptr) {
  const region_links_scope links({nullptr, nullptr, regions});
  memory_source source(in);
  std::istream is(&source);
  try {
    cereal::BinaryInputArchive archive(is);
    const direct_read_scope read_from_source(archive, source);
    read(archive);
  } catch (const cereal::Exception& e) {
    throw protocol_error(std::string("cannot decode a value: ") + e.what());
  }
}

template <class... T>
void read_values(std::string_view in, T&... values) {
  decode_from(in, [&](cereal::BinaryInputArchive& archive) { archive(values...); });
}

// The same, from a received value (with its shared_buffers' memory).
template <class... T>
void read_values(const encoded_input& in, T&... values) {
  decode_from(
      in.bytes, [&](cereal::BinaryInputArchive& archive) { archive(values...); }, in.regions);
}

// What can be sent: a function pointer, or a lambda without captures (default-constructible
// and empty), which the worker builds afresh.
template <class F>
inline constexpr bool is_sendable_function_v = (std::is_pointer_v<F> &&
                                                std::is_function_v<std::remove_pointer_t<F>>) ||
                                               (std::is_class_v<F> && std::is_empty_v<F> &&
                                                std::is_default_constructible_v<F>);

// Results a borrowing payload (payload.hpp: MPI's) sends from their own memory: a string or
// a vector of direct elements (direct_read.hpp), encoded as cereal does (a 64-bit count,
// then the elements) with the elements borrowed when large. Only a whole result qualifies:
// a string inside a user's save() may be a temporary, gone before the reply is sent.
template <class R>
inline constexpr bool borrowable_result_v = false;
template <class A>
inline constexpr bool borrowable_result_v<std::basic_string<char, std::char_traits<char>, A>> =
    true;
template <direct_element T, class A>
inline constexpr bool borrowable_result_v<std::vector<T, A>> = true;

template <class R>
void write_borrowing(payload& out, std::shared_ptr<const R> value) {
  const cereal::size_type count = value->size();
  out.append(reinterpret_cast<const char*>(&count), sizeof count);
  const char* data = reinterpret_cast<const char*>(value->data());
  const std::size_t bytes = value->size() * sizeof(typename R::value_type);
  if (bytes < payload::borrow_above) {
    out.append(data, bytes);
    return;
  }
  out.borrow(data, bytes);
  out.keep(std::move(value));
}

template <class F, class R, class... Args>
void invoke_serialized(const void* fn, const encoded_input& in, payload& out) {
  std::tuple<Args...> args;
  read_values(in, args);
  in.consumed();
  auto call = [&]() -> decltype(auto) {
    if constexpr (std::is_pointer_v<F>) {
      return std::apply(reinterpret_cast<F>(const_cast<void*>(fn)), std::move(args));
    } else {
      return std::apply(F{}, std::move(args));
    }
  };
  if constexpr (std::is_void_v<R>) {
    call();
  } else if constexpr (borrowable_result_v<R>) {
    if (out.borrows()) {
      write_borrowing(out, std::make_shared<const R>(call()));
    } else {
      write_values(out, call());
    }
  } else {
    const R result = call();
    write_values(out, result);
  }
}

template <class F, class R, class... Args>
struct invoker_entry {
  static inline const bool registered = register_invoker(&invoke_serialized<F, R, Args...>);
};

// map's chunks: one remote call runs f over a vector of argument tuples, in order, and stops
// at the first exception. Its result is (the values so far — or their count for a void f —,
// u8 failed, [exception bytes]), so the caller gets every value before the failing position
// and the exception at it.
std::string encode_exception(std::exception_ptr error);

template <class F, class R, class... Args>
void invoke_chunk(const void* fn, const encoded_input& in, payload& out) {
  std::vector<std::tuple<Args...>> calls;
  read_values(in, calls);
  in.consumed();
  auto call = [&](std::tuple<Args...>& args) -> decltype(auto) {
    if constexpr (std::is_pointer_v<F>) {
      return std::apply(reinterpret_cast<F>(const_cast<void*>(fn)), std::move(args));
    } else {
      return std::apply(F{}, std::move(args));
    }
  };
  std::conditional_t<std::is_void_v<R>, std::uint64_t, std::vector<R>> done{};
  if constexpr (!std::is_void_v<R>) done.reserve(calls.size());
  std::string error;
  for (auto& args : calls) {
    try {
      if constexpr (std::is_void_v<R>) {
        call(args);
        ++done;
      } else {
        done.push_back(call(args));
      }
    } catch (...) {
      error = encode_exception(std::current_exception());
      break;
    }
  }
  const std::uint8_t failed = error.empty() ? 0 : 1;
  if (failed) {
    write_values(out, done, failed, error);
  } else {
    write_values(out, done, failed);
  }
}

template <class F, class R, class... Args>
struct chunk_invoker_entry {
  static inline const bool registered = register_invoker(&invoke_chunk<F, R, Args...>);
};

// A call ready to be sent: invoker, function (null for lambdas) and serialized arguments.
struct encoded_call {
  invoker entry = nullptr;
  const void* fn = nullptr;
  payload args;
};

// `store`: where the arguments go once large (the transport's; null: they stay in memory).
template <class F, class... Args>
encoded_call encode_call(block_store* store, F f, const Args&... args) {
  using R = std::remove_cvref_t<std::invoke_result_t<F, Args...>>;
  (void)invoker_entry<F, R, Args...>::registered;
  encoded_call call;
  call.args = payload(store);
  call.entry = &invoke_serialized<F, R, Args...>;
  if constexpr (std::is_pointer_v<F>) call.fn = reinterpret_cast<const void*>(f);
  write_values(call.args, std::tuple<const Args&...>(args...));
  return call;
}

// The calls of one chunk of map(), as one call of invoke_chunk.
template <class F, class... Args>
encoded_call encode_chunk(block_store* store, F f, const std::vector<std::tuple<Args...>>& calls) {
  using R = std::remove_cvref_t<std::invoke_result_t<F, Args...>>;
  (void)chunk_invoker_entry<F, R, Args...>::registered;
  encoded_call call;
  call.args = payload(store);
  call.entry = &invoke_chunk<F, R, Args...>;
  if constexpr (std::is_pointer_v<F>) call.fn = reinterpret_cast<const void*>(f);
  write_values(call.args, calls);
  return call;
}

// Exceptions across the boundary: the exact dynamic types of <stdexcept>, std::bad_alloc and
// cfutures' errors come back as themselves; anything else as remote_error (encode_exception
// is declared above, with invoke_chunk).
std::exception_ptr decode_exception(std::string_view bytes);

// Completes `state` (a shared_state<R>) from a worker's reply; the reply's bytes are given
// back once decoded, before the future completes (so that what its waiter sends next can
// reuse their block).
template <class R>
void complete_from_reply(state_base& state, bool ok, const encoded_input& in) noexcept {
  auto& typed = static_cast<shared_state<R>&>(state);
  if (!ok) {
    std::exception_ptr error = decode_exception(in.bytes);
    in.consumed();
    typed.try_set_exception(std::move(error));
    return;
  }
  try {
    if constexpr (std::is_void_v<R>) {
      in.consumed();
      typed.try_set_result();
    } else {
      R value{};
      read_values(in, value);
      in.consumed();
      typed.try_set_result(std::move(value));
    }
  } catch (...) {
    typed.try_set_exception(std::current_exception());
  }
}

}  // namespace cfutures::detail
