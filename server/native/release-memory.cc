/*
 * Hands memory the server no longer uses back to the operating system, for
 * after thousands of connections have closed. Node has a binding for
 * neither call, hence this addon (compiled by `npm run build:server`).
 *
 * - lowMemoryNotification(): V8's own "the system is short of memory"
 *   collection: full collections until nothing more is freed, then the
 *   young generation shrunk to its minimum and pooled free pages unmapped.
 *   `gc()` (node --expose-gc) frees the same objects but keeps the pages
 *   (measured: heap committed 7.7 MB after two gc() calls, 4.2 MB after
 *   this, for 2.7 MB in use); V8 would release them only when its memory
 *   reducer acts, 10-20 s later and only if the process stays idle.
 * - mallocTrim(): glibc's malloc_trim(0). glibc returns freed memory by
 *   itself only from the top of its heap; the native allocations closed
 *   sockets made (handles, read buffers) leave megabytes of free but
 *   resident pages below whatever was allocated last. Elsewhere (musl,
 *   macOS) it does nothing and returns false.
 *
 * lowMemoryNotification uses V8's C++ API, which (unlike Node-API) is tied
 * to the Node version the addon was compiled against: build:server compiles
 * it against the Node that runs it, and `npm start` builds before serving.
 */
#include <node_api.h>
#include <v8.h>

#include <cstdlib> /* defines __GLIBC__ where the C library is glibc */
#if defined(__GLIBC__)
#include <malloc.h>
#endif

static napi_value MallocTrim(napi_env env, napi_callback_info) {
  bool released = false;
#if defined(__GLIBC__)
  released = malloc_trim(0) == 1;
#endif
  napi_value result;
  napi_get_boolean(env, released, &result);
  return result;
}

static napi_value LowMemoryNotification(napi_env env, napi_callback_info) {
  v8::Isolate::GetCurrent()->LowMemoryNotification();
  napi_value result;
  napi_get_undefined(env, &result);
  return result;
}

static void Export(napi_env env, napi_value exports, const char* name, napi_callback callback) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, callback, nullptr, &fn);
  napi_set_named_property(env, exports, name, fn);
}

NAPI_MODULE_INIT() {
  Export(env, exports, "mallocTrim", MallocTrim);
  Export(env, exports, "lowMemoryNotification", LowMemoryNotification);
  return exports;
}
