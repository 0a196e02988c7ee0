// cfutures/serialization.hpp — what can cross a process boundary, and how.
//
// What: arguments and results of calls run by process_pool_executor (and the MPI executor)
// are serialized with cereal's binary archives. Serializable out of the box: arithmetic
// types, enums, std::string, the std containers (vector, deque, list, forward_list, array,
// map, multimap, unordered_map, set, unordered_set, valarray, bitset), pair, tuple,
// optional, variant, complex, chrono durations and time points, std::monostate; and any user
// type that follows cereal's convention (a `serialize(Archive&)` member or free function, or
// save/load pairs). Raw pointers, references to local state and anything else are rejected at
// compile time by cfutures::serializable, with a message naming the offending type.
// A shared_buffer<T> (<cfutures/shared_buffer.hpp>), alone or as a member, crosses as a handle
// to its shared memory, not as its elements.
// Decoding: strings and vectors of arithmetic types or std::byte are read in one copy; a
// size inside a value that announces more elements than bytes follow fails the call with
// protocol_error ("cannot decode a value: ...") before anything is allocated for it.
//
// Thread safety: stateless.
// Blocking: never.
// Throws: nothing here. A result that cannot be decoded fails its future with
//   protocol_error; an exception from a user's serialize() propagates from submit while the
//   arguments are encoded, and fails the call when the worker decodes them or the result is
//   decoded here.
// Python counterpart: pickle, as used by ProcessPoolExecutor.
// Deviations: only types known at compile time cross (no pickling of arbitrary objects);
//   functions are not serialized but sent as code addresses of the same binary.
#pragma once

#include <cereal/archives/binary.hpp>
#include <cereal/types/array.hpp>
#include <cereal/types/bitset.hpp>
#include <cereal/types/chrono.hpp>
#include <cereal/types/complex.hpp>
#include <cereal/types/deque.hpp>
#include <cereal/types/forward_list.hpp>
#include <cereal/types/list.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/set.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/tuple.hpp>
#include <cereal/types/unordered_map.hpp>
#include <cereal/types/unordered_set.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/valarray.hpp>
#include <cereal/types/variant.hpp>
#include <cereal/types/vector.hpp>
#include <type_traits>

#include "cfutures/detail/direct_read.hpp"

namespace cfutures {
namespace detail {

// cereal's own traits accept std::vector<X> for any X (its serialize template is
// unconstrained), so the std types are looked through here, element by element.
template <class T>
struct deep_serializable
    : std::bool_constant<
          !std::is_pointer_v<T> && !std::is_member_pointer_v<T> &&
          cereal::traits::is_output_serializable<T, cereal::BinaryOutputArchive>::value &&
          cereal::traits::is_input_serializable<T, cereal::BinaryInputArchive>::value> {};

template <class... Ts>
inline constexpr bool all_serializable_v = (deep_serializable<std::remove_cv_t<Ts>>::value && ...);

template <class T, class A>
struct deep_serializable<std::vector<T, A>> : std::bool_constant<all_serializable_v<T>> {};
template <class T, class A>
struct deep_serializable<std::deque<T, A>> : std::bool_constant<all_serializable_v<T>> {};
template <class T, class A>
struct deep_serializable<std::list<T, A>> : std::bool_constant<all_serializable_v<T>> {};
template <class T, class A>
struct deep_serializable<std::forward_list<T, A>> : std::bool_constant<all_serializable_v<T>> {};
template <class T, std::size_t N>
struct deep_serializable<std::array<T, N>> : std::bool_constant<all_serializable_v<T>> {};
template <class T>
struct deep_serializable<std::valarray<T>> : std::bool_constant<all_serializable_v<T>> {};
template <class T>
struct deep_serializable<std::optional<T>> : std::bool_constant<all_serializable_v<T>> {};
template <class K, class C, class A>
struct deep_serializable<std::set<K, C, A>> : std::bool_constant<all_serializable_v<K>> {};
template <class K, class C, class A>
struct deep_serializable<std::multiset<K, C, A>> : std::bool_constant<all_serializable_v<K>> {};
template <class K, class H, class E, class A>
struct deep_serializable<std::unordered_set<K, H, E, A>>
    : std::bool_constant<all_serializable_v<K>> {};
template <class K, class V, class C, class A>
struct deep_serializable<std::map<K, V, C, A>> : std::bool_constant<all_serializable_v<K, V>> {};
template <class K, class V, class C, class A>
struct deep_serializable<std::multimap<K, V, C, A>> : std::bool_constant<all_serializable_v<K, V>> {
};
template <class K, class V, class H, class E, class A>
struct deep_serializable<std::unordered_map<K, V, H, E, A>>
    : std::bool_constant<all_serializable_v<K, V>> {};
template <class A, class B>
struct deep_serializable<std::pair<A, B>> : std::bool_constant<all_serializable_v<A, B>> {};
template <class... Ts>
struct deep_serializable<std::tuple<Ts...>> : std::bool_constant<all_serializable_v<Ts...>> {};
template <class... Ts>
struct deep_serializable<std::variant<Ts...>> : std::bool_constant<all_serializable_v<Ts...>> {};

}  // namespace detail

// True when T can be written to and read back from a worker process.
template <class T>
inline constexpr bool is_serializable_v = detail::deep_serializable<std::remove_cv_t<T>>::value;

// The same, as a concept: constrain a template parameter to what can cross processes.
template <class T>
concept serializable = is_serializable_v<T>;

namespace detail {

// Fails to compile, naming T in the instantiation trace, when T cannot cross processes.
template <class T>
struct require_serializable {
  static_assert(is_serializable_v<T>,
                "cfutures: this type cannot be sent to or from a worker process. Arguments and "
                "results of process/MPI calls must be serializable: arithmetic types, "
                "std::string, std containers, pair, tuple, optional, variant, or a type with a "
                "cereal serialize() function (see <cfutures/serialization.hpp>). The type is "
                "named in the 'required from' line of this error.");
  static constexpr bool value = true;
};

}  // namespace detail
}  // namespace cfutures
