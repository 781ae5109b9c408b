#pragma once

#include <array>
#include <boost/system/result.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "domain/citizen.hpp"
#include "registries/registry.hpp"

namespace lgsp::registries::insurance {

template <class T>
using StoreResult = boost::system::result<T>;

/// The insurance registry's commands (the last step of the birth and of the death procedure,
/// and their undos).
inline constexpr std::array<CommandArg, 4> kIssueChildCardArgs{{
    {"citizen_id", ArgKind::kCitizenId},
    {"date_of_birth", ArgKind::kDate},
    {"hospital_province", ArgKind::kText},
    {"hospital_facility_code", ArgKind::kText},
}};
inline constexpr std::array<std::string_view, 3> kIssueChildCardResults{
    "social_insurance_number", "health_insurance_card", "coverage_end"};
inline constexpr std::array<CommandArg, 2> kFuneralAllowanceArgs{{
    {"citizen_id", ArgKind::kCitizenId},
    {"date_of_death", ArgKind::kDate},
}};
inline constexpr std::array<std::string_view, 2> kFuneralAllowanceResults{"allowance_reference",
                                                                          "amount_vnd"};
inline constexpr std::array<CommandSpec, 4> kCommands{{
    {"issue-child-card", kIssueChildCardArgs, "cancel-child-card",
     "issues the free health insurance card of a child under 6, valid until the day before "
     "their sixth birthday",
     kIssueChildCardResults},
    {"cancel-child-card", {}, "", "removes the card an issue-child-card issued"},
    {"grant-funeral-allowance", kFuneralAllowanceArgs, "revoke-funeral-allowance",
     "grants a deceased employee's, civil servant's or pensioner's funeral allowance (ten times "
     "the base salary of the month of death) and ends their coverage on that date",
     kFuneralAllowanceResults},
    {"revoke-funeral-allowance",
     {},
     "",
     "withdraws the allowance a grant-funeral-allowance granted and restores the coverage"},
}};

/// Read access to the social/health insurance registry (one record per insured citizen).
/// Implementations: SQLite (embedded default) and PostgreSQL; one instance per thread.
/// "Not found" is an empty optional; an error means the store could not answer.
class InsuranceStore : public CommandTarget {
 public:
  ~InsuranceStore() override = default;
  virtual StoreResult<std::optional<domain::InsuranceRow>> find_by_citizen(
      std::string_view citizen_id) = 0;
  virtual StoreResult<std::optional<domain::InsuranceRow>> find_by_sin(std::string_view sin) = 0;
  virtual std::vector<domain::InsuranceRow> samples(std::int64_t n) = 0;
};

/// Bulk writer for `lgsp seed`, atomic at finish(). Not thread-safe.
class InsuranceWriter {
 public:
  virtual ~InsuranceWriter() = default;
  virtual void add(const domain::InsuranceRow& row) = 0;
  virtual void finish(const Meta& meta) = 0;
};

/// The store (or writer) of the backend `rc` names; throws with the reason.
std::unique_ptr<InsuranceStore> open_store(const config::RegistryConfig& rc);
std::unique_ptr<InsuranceWriter> open_writer(const config::RegistryConfig& rc);

std::unique_ptr<InsuranceStore> open_sqlite_store(const std::string& path);
std::unique_ptr<InsuranceWriter> open_sqlite_writer(const std::string& path);
std::unique_ptr<InsuranceStore> open_postgres_store(const std::string& dsn, std::size_t pool);
std::unique_ptr<InsuranceWriter> open_postgres_writer(const std::string& dsn);

}  // namespace lgsp::registries::insurance
