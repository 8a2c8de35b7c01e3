/* version.h - libzheap's version. CMakeLists.txt reads the numbers from here, so
 * this file is the single place a release changes them. */
#ifndef ZHEAP_VERSION_H
#define ZHEAP_VERSION_H

#include "zheap/export.h"

#define ZH_VERSION_MAJOR 0
#define ZH_VERSION_MINOR 1
#define ZH_VERSION_PATCH 0

#define ZH__STRINGIFY(x) #x
#define ZH__VERSION_STRING(a, b, c) ZH__STRINGIFY(a) "." ZH__STRINGIFY(b) "." ZH__STRINGIFY(c)
/* "MAJOR.MINOR.PATCH" of the headers being compiled against. */
#define ZH_VERSION_STRING ZH__VERSION_STRING(ZH_VERSION_MAJOR, ZH_VERSION_MINOR, ZH_VERSION_PATCH)
/* MAJOR * 10000 + MINOR * 100 + PATCH, for #if comparisons. */
#define ZH_VERSION_NUMBER (ZH_VERSION_MAJOR * 10000 + ZH_VERSION_MINOR * 100 + ZH_VERSION_PATCH)

#ifdef __cplusplus
extern "C" {
#endif

/* The version of the library actually linked: compare with ZH_VERSION_STRING to
 * detect a header/library mismatch. Static storage; never NULL. */
ZH_EXTERN const char *zh_version_string(void);
/* ZH_VERSION_NUMBER of the linked library. */
ZH_EXTERN unsigned zh_version_number(void);

#ifdef __cplusplus
}
#endif

#endif /* ZHEAP_VERSION_H */
