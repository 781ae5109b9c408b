#include "seed/synthetic.hpp"

#include <gtest/gtest.h>

#include <map>
#include <unordered_set>

#include "domain/citizen_id.hpp"
#include "domain/dates.hpp"
#include "domain/names.hpp"

namespace lgsp::seed {
namespace {

TEST(Synthetic, SameSeedSameCitizens) {
  SyntheticPopulation a(42), b(42), c(43);
  bool any_differs = false;
  for (int i = 0; i < 1000; ++i) {
    const auto x = a.next(), y = b.next(), z = c.next();
    ASSERT_EQ(x.citizen_id, y.citizen_id);
    ASSERT_EQ(x.full_name, y.full_name);
    any_differs = any_differs || x.citizen_id != z.citizen_id;
  }
  EXPECT_TRUE(any_differs);
}

TEST(Synthetic, IdsAreValidUniqueAndAgreeWithBirthYearAndGender) {
  SyntheticPopulation gen(1);
  std::unordered_set<std::string> seen;
  for (int i = 0; i < 200000; ++i) {
    const auto r = gen.next();
    ASSERT_TRUE(seen.insert(r.citizen_id).second) << "duplicate at " << i;
    const auto check = domain::check_citizen_id(r.citizen_id);
    ASSERT_TRUE(check.info) << r.citizen_id << ": " << check.error;
    const auto dob = domain::parse_iso_date(r.date_of_birth);
    ASSERT_TRUE(dob);
    EXPECT_EQ(check.info->birth_year, dob->year);
    EXPECT_EQ(domain::to_string(check.info->gender), r.gender);
    ASSERT_TRUE(domain::parse_iso_date(r.id_card_issue_date));
    EXPECT_GE(r.id_card_issue_date, "2016-01-01");
    EXPECT_GT(r.id_card_issue_date, r.date_of_birth);
  }
}

TEST(Synthetic, FamilyNamesFollowTheRealSkew) {
  SyntheticPopulation gen(5);
  std::map<std::string, int> family;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    const auto name = gen.next().full_name;
    family[name.substr(0, name.find(' '))]++;
  }
  // Nguyễn is about 38% of Vietnamese; Trần about 12%.
  EXPECT_NEAR(family["Nguyễn"] / static_cast<double>(n), 0.38, 0.02);
  EXPECT_NEAR(family["Trần"] / static_cast<double>(n), 0.12, 0.015);
  EXPECT_GT(family.size(), 20U);
}

TEST(Synthetic, NamesAreNfcAndThreeParts) {
  SyntheticPopulation gen(9);
  for (int i = 0; i < 1000; ++i) {
    const auto name = gen.next().full_name;
    EXPECT_EQ(domain::normalize_name(name).has_value(), true);
    EXPECT_EQ(std::count(name.begin(), name.end(), ' '), 2) << name;
  }
}

}  // namespace
}  // namespace lgsp::seed
