// The chat page at / : served by herd itself, identical to src/server/web/chat.html, and with no
// external resources (no CDN, no remote fonts).
#include <gtest/gtest.h>

#include <regex>

#include "server_fixture.h"
#include "test_support.h"

namespace herd::test {
namespace {

TEST(ServerWeb, PageIsServedAndMatchesTheSource) {
  TestServer s;
  auto c = s.client();
  auto r = c.Get("/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->get_header_value("Content-Type").find("text/html"), std::string::npos);
  const std::string src = read_text(std::string(HERD_SOURCE_DIR) + "/src/server/web/chat.html");
  EXPECT_EQ(r->body, src) << "run src/server/web/gen_inc.sh after editing chat.html";
}

TEST(ServerWeb, PageLoadsNothingFromOtherHosts) {
  TestServer s;
  const std::string page = s.client().Get("/")->body;
  // src=, href=, url(), @import and fetch() may only name paths on this server.
  const std::regex external(R"((src|href)\s*=\s*["']?\s*(https?:)?//|url\(\s*["']?(https?:)?//|@import|fetch\(\s*["'`]https?:)",
                            std::regex::icase);
  EXPECT_FALSE(std::regex_search(page, external));
  for (const char* path : {"/v1/chat/completions", "/v1/models", "/metrics"})
    EXPECT_NE(page.find(path), std::string::npos) << path;
}

}  // namespace
}  // namespace herd::test
