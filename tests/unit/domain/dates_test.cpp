#include "domain/dates.hpp"

#include <gtest/gtest.h>

namespace lgsp::domain {
namespace {

TEST(IsoDate, ParsesExtendedCalendarDate) {
  const auto d = parse_iso_date("1999-05-01");
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, (Date{1999, 5, 1}));
  EXPECT_EQ(to_iso(*d), "1999-05-01");
}

TEST(IsoDate, AcceptsLeapDayOnlyInLeapYears) {
  EXPECT_TRUE(parse_iso_date("2000-02-29"));
  EXPECT_FALSE(parse_iso_date("2023-02-29"));
  EXPECT_FALSE(parse_iso_date("1900-02-29"));
}

TEST(IsoDate, RejectsOtherForms) {
  for (const char* s : {"01/05/1999", "1999-5-1", "19990501", "1999-05-01T00:00:00Z", "1999-13-01",
                        "1999-00-10", "1999-05-32", "", "abcd-ef-gh"}) {
    EXPECT_FALSE(parse_iso_date(s)) << s;
  }
}

}  // namespace
}  // namespace lgsp::domain
