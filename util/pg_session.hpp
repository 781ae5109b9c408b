#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace lgsp::util {

/// A store's one PostgreSQL connection (a libpqxx connection is single-threaded): opened
/// when first needed, opened again at the next call after it broke, one transaction at a
/// time. Header-only; its users link libpqxx. Thread-safe.
class PgSession {
 public:
  /// `store` names the store in errors ("batch store (PostgreSQL)"); `on_connect` runs on
  /// each new connection before its first transaction (prepared statements).
  PgSession(std::string dsn, std::string store,
            std::function<void(pqxx::connection&)> on_connect = {})
      : dsn_(std::move(dsn)), store_(std::move(store)), on_connect_(std::move(on_connect)) {}

  /// Connects now: a wrong DSN fails at start, with libpq's reason.
  void connect() {
    run("connect", [](pqxx::work&) {});
  }

  /// Runs `body` in one transaction, committed when it returns. libpqxx failures become
  /// runtime_errors "<store>: <what> failed: <the server's reason>" (never a bound value); a
  /// broken connection, or a commit whose outcome is in doubt, is dropped and opened afresh
  /// at the next call. Other exceptions (a store's own) roll back and pass through.
  template <typename Body>
  auto run(const char* what, Body&& body) -> std::invoke_result_t<Body, pqxx::work&> {
    const std::lock_guard lock(mu_);
    try {
      if (!conn_) {
        auto conn = std::make_unique<pqxx::connection>(dsn_);
        if (on_connect_) on_connect_(*conn);
        conn_ = std::move(conn);
      }
      pqxx::work tx(*conn_);
      if constexpr (std::is_void_v<std::invoke_result_t<Body, pqxx::work&>>) {
        body(tx);
        tx.commit();
      } else {
        auto result = body(tx);
        tx.commit();
        return result;
      }
    } catch (const pqxx::sql_error& e) {
      throw error(store_, what, e.what());
    } catch (const pqxx::failure& e) {
      conn_.reset();
      throw error(store_, what, e.what());
    }
  }

  /// "<store>: <what> failed: <why>", without the trailing newlines libpq leaves.
  static std::runtime_error error(const std::string& store, const char* what, std::string why) {
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    return std::runtime_error(store + ": " + what + " failed: " + why);
  }

 private:
  const std::string dsn_;
  const std::string store_;
  const std::function<void(pqxx::connection&)> on_connect_;
  std::mutex mu_;
  std::unique_ptr<pqxx::connection> conn_;
};

}  // namespace lgsp::util
