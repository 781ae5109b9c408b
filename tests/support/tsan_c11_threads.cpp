// ThreadSanitizer builds only (the tsan preset): C11 threads on top of pthreads.
//
// librdkafka creates its threads and locks its mutexes through glibc's C11 <threads.h>
// (thrd_create, mtx_lock, cnd_wait...). glibc implements those by calling its internal
// pthread functions directly, past TSan's interceptors, so TSan never learns of those
// threads (it crashed in its allocator on an unregistered thread) nor of their locks (it
// would report races that the locks prevent). Defining the C11 functions here, in the
// executable, interposes them for librdkafka: each forwards to the public pthread function,
// which TSan intercepts. glibc's C11 types are its pthread types (same layout).
#include <pthread.h>

#include <cerrno>
#include <cstdint>
#include <ctime>
#include <memory>

namespace {
enum { kSuccess = 0, kBusy = 1, kError = 2, kNoMem = 3, kTimedOut = 4 };  // glibc's thrd_*
enum { kMtxRecursive = 1 };

int result(int rc) {
  switch (rc) {
    case 0:
      return kSuccess;
    case EBUSY:
      return kBusy;
    case ENOMEM:
      return kNoMem;
    case ETIMEDOUT:
      return kTimedOut;
    default:
      return kError;
  }
}

struct Start {
  int (*func)(void*);
  void* arg;
};

void* trampoline(void* p) {
  const std::unique_ptr<Start> s(static_cast<Start*>(p));
  return reinterpret_cast<void*>(static_cast<std::intptr_t>(s->func(s->arg)));
}
}  // namespace

extern "C" {

int thrd_create(pthread_t* thr, int (*func)(void*), void* arg) {
  auto* s = new Start{func, arg};
  const int rc = pthread_create(thr, nullptr, trampoline, s);
  if (rc != 0) delete s;
  return result(rc);
}

int thrd_join(pthread_t thr, int* res) {
  void* ret = nullptr;
  const int rc = pthread_join(thr, &ret);
  if (rc == 0 && res != nullptr) *res = static_cast<int>(reinterpret_cast<std::intptr_t>(ret));
  return result(rc);
}

int mtx_init(pthread_mutex_t* m, int type) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  if ((type & kMtxRecursive) != 0) pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  const int rc = pthread_mutex_init(m, &attr);
  pthread_mutexattr_destroy(&attr);
  return result(rc);
}
int mtx_lock(pthread_mutex_t* m) { return result(pthread_mutex_lock(m)); }
int mtx_unlock(pthread_mutex_t* m) { return result(pthread_mutex_unlock(m)); }
int mtx_trylock(pthread_mutex_t* m) { return result(pthread_mutex_trylock(m)); }
void mtx_destroy(pthread_mutex_t* m) { pthread_mutex_destroy(m); }

int cnd_init(pthread_cond_t* c) { return result(pthread_cond_init(c, nullptr)); }
int cnd_signal(pthread_cond_t* c) { return result(pthread_cond_signal(c)); }
int cnd_broadcast(pthread_cond_t* c) { return result(pthread_cond_broadcast(c)); }
int cnd_wait(pthread_cond_t* c, pthread_mutex_t* m) { return result(pthread_cond_wait(c, m)); }
int cnd_timedwait(pthread_cond_t* c, pthread_mutex_t* m, const timespec* until) {
  return result(pthread_cond_timedwait(c, m, until));
}
void cnd_destroy(pthread_cond_t* c) { pthread_cond_destroy(c); }

void call_once(pthread_once_t* flag, void (*func)()) { pthread_once(flag, func); }

}  // extern "C"
