#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
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

}  // namespace lgsp::util
