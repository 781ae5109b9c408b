#include "tests/support/pg_schema.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <pqxx/pqxx>
#include <stdexcept>

namespace lgsp::testing {

TestSchema::TestSchema(const std::string& prefix) {
  const char* dsn = std::getenv("LGSP_TEST_PG_DSN");  // NOLINT(concurrency-mt-unsafe)
  if (dsn == nullptr) throw std::runtime_error("LGSP_TEST_PG_DSN is not set");
  static std::atomic<int> counter{0};
  admin_ = dsn;
  name_ = prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
  pqxx::connection c(admin_);
  pqxx::nontransaction(c).exec("DROP SCHEMA IF EXISTS " + name_ + " CASCADE; CREATE SCHEMA " +
                               name_);
  dsn_ = admin_ + " options=-csearch_path=" + name_;
}

TestSchema::~TestSchema() {
  try {
    pqxx::connection c(admin_);
    pqxx::nontransaction(c).exec("DROP SCHEMA " + name_ + " CASCADE");
  } catch (const std::exception&) {
    // The server is gone (the fixture stopped it): nothing left to drop.
  }
}

}  // namespace lgsp::testing
