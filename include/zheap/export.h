/* export.h - the one export macro of libzheap.
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

#endif /* ZHEAP_EXPORT_H */
