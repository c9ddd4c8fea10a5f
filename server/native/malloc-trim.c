/*
 * malloc_trim(0) for Node: hands the free memory inside glibc's heap back to
 * the operating system. glibc returns freed memory by itself only from the
 * top of the heap; after thousands of connections close, the native
 * allocations they made (socket handles, read buffers) leave megabytes of
 * free but resident pages below whatever was allocated last. Node has no
 * binding for this call, hence this addon. Elsewhere (musl, macOS) it
 * does nothing and returns false.
 */
#include <node_api.h>
#include <stdlib.h> /* defines __GLIBC__ where the C library is glibc */
#if defined(__GLIBC__)
#include <malloc.h>
#endif

static napi_value MallocTrim(napi_env env, napi_callback_info info) {
  (void)info;
  bool released = false;
#if defined(__GLIBC__)
  released = malloc_trim(0) == 1;
#endif
  napi_value result;
  napi_get_boolean(env, released, &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "mallocTrim", NAPI_AUTO_LENGTH, MallocTrim, NULL, &fn);
  napi_set_named_property(env, exports, "mallocTrim", fn);
  return exports;
}
