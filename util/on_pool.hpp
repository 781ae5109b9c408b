#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <memory>
#include <utility>

namespace lgsp::util {

/// Runs `work` (blocking I/O: a store query, an fsync) on `pool`, never on the caller's
/// thread; the calling coroutine resumes on its own executor with the result, or with the
/// exception `work` threw. Plain callbacks, not a lambda coroutine (GCC 12 destroyed such a
/// lambda's captures twice). T must be default-constructible. In a coroutine, a `work` that
/// owns values (strings, shared pointers) is passed from a named variable and the returned
/// awaitable named before co_await: GCC 12 destroys temporaries of a co_await expression
/// twice.
template <class T, class Context, class Work>
boost::asio::awaitable<T> on_pool(Context& pool, Work work) {
  namespace asio = boost::asio;
  return asio::async_initiate<decltype(asio::use_awaitable), void(std::exception_ptr, T)>(
      [&pool](auto handler, Work w) {
        asio::post(pool, [w = std::move(w), handler = std::move(handler)]() mutable {
          std::exception_ptr error;
          T result{};
          try {
            result = w();
          } catch (...) {
            error = std::current_exception();
          }
          auto executor = asio::get_associated_executor(handler);
          asio::post(executor,
                     [handler = std::move(handler), error, result = std::move(result)]() mutable {
                       std::move(handler)(error, std::move(result));
                     });
        });
      },
      asio::use_awaitable, std::move(work));
}

/// Work that start_on_pool() started on a pool, for its caller to await later: the caller
/// goes on meanwhile (a store write in flight while the next batch is read). Its state is
/// touched only on the executor given to start_on_pool(), where wait() must be awaited.
class PoolTask {
 public:
  explicit PoolTask(const boost::asio::any_io_executor& ex) : ended_(ex) {
    ended_.expires_at(boost::asio::steady_timer::time_point::max());
  }
  /// Resumes once the work has ended; rethrows what it threw.
  boost::asio::awaitable<void> wait() {
    while (!done_) {
      auto [ec] = co_await ended_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
      (void)ec;  // cancelled by end(): the work has ended
    }
    if (error_) std::rethrow_exception(error_);
  }
  /// start_on_pool()'s, on the task's executor: the work ended, with `error` if it threw.
  void end(std::exception_ptr error) {
    done_ = true;
    error_ = std::move(error);
    ended_.cancel();
  }

 private:
  boost::asio::steady_timer ended_;
  bool done_ = false;
  std::exception_ptr error_;
};

/// Starts `work` (blocking I/O) on `pool` and returns at once; the task's end is signalled
/// on `ex`, the caller's executor. Tasks started on a one-thread pool run in their order.
template <class Context, class Work>
std::shared_ptr<PoolTask> start_on_pool(Context& pool, const boost::asio::any_io_executor& ex,
                                        Work work) {
  namespace asio = boost::asio;
  auto task = std::make_shared<PoolTask>(ex);
  asio::post(pool, [task, ex, w = std::move(work)]() mutable {
    std::exception_ptr error;
    try {
      w();
    } catch (...) {
      error = std::current_exception();
    }
    asio::post(ex, [task, error] { task->end(error); });
  });
  return task;
}

}  // namespace lgsp::util
