#pragma once

#include <string>

namespace lgsp::testing {

/// A schema of its own in the PostgreSQL test server (LGSP_TEST_PG_DSN), created empty and
/// dropped with everything in it at the end: one test's tables, whatever ran before on the
/// same database. Check postgres_available() first.
class TestSchema {
 public:
  /// `prefix`: the start of the schema's name (the process id and a counter follow).
  explicit TestSchema(const std::string& prefix);
  ~TestSchema();
  TestSchema(const TestSchema&) = delete;
  TestSchema& operator=(const TestSchema&) = delete;

  /// A connection string for the server with this schema alone on the search path.
  const std::string& dsn() const { return dsn_; }

 private:
  std::string admin_;
  std::string name_;
  std::string dsn_;
};

}  // namespace lgsp::testing
