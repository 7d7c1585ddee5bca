// kSanitized: whether this build runs under AddressSanitizer or ThreadSanitizer, which
// make code some 5 to 20 times slower. A test whose work is a count of repetitions
// (random inputs, messages through a lossy network) does fewer of them there: the
// sanitizers look for errors that a few repetitions find as well as many, and the
// plain build and the fuzz targets do the many. Test code only.
#ifndef GLUE_BASE_SANITIZED_H_
#define GLUE_BASE_SANITIZED_H_

namespace glue::testing {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif
#else
inline constexpr bool kSanitized = false;
#endif

}  // namespace glue::testing

#endif  // GLUE_BASE_SANITIZED_H_
