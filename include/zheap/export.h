/* export.h - the one export macro of libzheap, and the spellings that differ
 * between C and C++ (every public header includes this one).
 *
 * The library is built with hidden visibility; only declarations marked ZH_EXTERN
 * are exported from the shared library. Consumers of a Windows DLL define
 * ZH_USING_SHARED (the installed CMake package and zheap.pc do this for them).
 * This is the only public header that names a platform: the DLL import/export
 * attributes cannot be expressed any other way. */
#ifndef ZHEAP_EXPORT_H
#define ZHEAP_EXPORT_H

#if defined(_WIN32) || defined(__CYGWIN__)
#  if defined(ZH_BUILDING_SHARED)
#    define ZH_EXTERN __declspec(dllexport)
#  elif defined(ZH_USING_SHARED)
#    define ZH_EXTERN __declspec(dllimport)
#  else
#    define ZH_EXTERN /* static library */
#  endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#  define ZH_EXTERN __attribute__((visibility("default")))
#else
#  define ZH_EXTERN
#endif

/* Every public header and macro compiles as C11 and as C++11 or later. Where the
 * two languages spell a feature differently, the headers use these (internal):
 *   ZH__ALIGNOF(T)        _Alignof(T) / alignof(T)
 *   ZH__ALIGNAS(T)        _Alignas(T) / alignas(T)
 *   ZH__LITERAL(T){...}   a compound literal in C, a braced temporary in C++
 * Macros that return a typed pointer cast the void * explicitly (C++ needs it). */
#ifdef __cplusplus
#  define ZH__ALIGNOF(T) alignof(T)
#  define ZH__ALIGNAS(T) alignas(T)
#  define ZH__LITERAL(T) T
#else
#  define ZH__ALIGNOF(T) _Alignof(T)
#  define ZH__ALIGNAS(T) _Alignas(T)
#  define ZH__LITERAL(T) (T)
#endif

#endif /* ZHEAP_EXPORT_H */
