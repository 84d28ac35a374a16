#include "ranking/duration.h"

#include <gtest/gtest.h>

namespace evictd {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

struct Parsed {
  const char* text;
  Nanos value;
};

class DurationParseTest : public testing::TestWithParam<Parsed> {};

TEST_P(DurationParseTest, ParsesAsGo) {
  auto d = parse_go_duration(GetParam().text);
  ASSERT_TRUE(d.ok()) << GetParam().text << ": " << d.error().message;
  EXPECT_EQ(d->count(), GetParam().value.count()) << GetParam().text;
}

INSTANTIATE_TEST_SUITE_P(
    Table, DurationParseTest,
    testing::Values(Parsed{"300ms", milliseconds(300)}, Parsed{"30s", seconds(30)},
                    Parsed{"2m", minutes(2)}, Parsed{"1m30s", seconds(90)}, Parsed{"1h", hours(1)},
                    Parsed{"1.5h", minutes(90)}, Parsed{"0", Nanos(0)}, Parsed{"-1s", seconds(-1)},
                    Parsed{"+5m", minutes(5)}, Parsed{".5s", milliseconds(500)},
                    Parsed{"1.s", seconds(1)}, Parsed{"100ns", Nanos(100)},
                    Parsed{"1us", Nanos(1000)}, Parsed{"1\xc2\xb5s", Nanos(1000)},
                    Parsed{"1h2m3s4ms5us6ns", Nanos(3723004005006)},
                    Parsed{"2562047h47m16.854775807s", Nanos(INT64_MAX)}));

class DurationRejectTest : public testing::TestWithParam<const char*> {};

TEST_P(DurationRejectTest, Refuses) {
  EXPECT_FALSE(parse_go_duration(GetParam()).ok()) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(Table, DurationRejectTest,
                         testing::Values("", "1", "s", "1x", ".s", "-", "1m 30s", "2562048h", "5 m",
                                         "1d"));

TEST(Duration, MissingUnitMessage) {
  EXPECT_EQ(parse_go_duration("30").error().message, "missing unit in duration \"30\"");
  EXPECT_EQ(parse_go_duration("3d").error().message, "unknown unit \"d\" in duration \"3d\"");
}

TEST(Duration, FormatsAsGo) {
  EXPECT_EQ(format_go_duration(seconds(90)), "1m30s");
  EXPECT_EQ(format_go_duration(minutes(2)), "2m0s");
  EXPECT_EQ(format_go_duration(hours(1)), "1h0m0s");
  EXPECT_EQ(format_go_duration(Nanos(0)), "0s");
  EXPECT_EQ(format_go_duration(Nanos(1500000)), "1.5ms");
  EXPECT_EQ(format_go_duration(Nanos(100)), "100ns");
  EXPECT_EQ(format_go_duration(Nanos(1500)), "1.5\xc2\xb5s");
  EXPECT_EQ(format_go_duration(milliseconds(-1500)), "-1.5s");
  EXPECT_EQ(format_go_duration(Nanos(INT64_MIN)), "-2562047h47m16.854775808s");
}

}  // namespace
}  // namespace evictd
