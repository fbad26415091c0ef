#include "server/tool_prompt.h"

namespace herd::server {

std::string tools_system_prompt(const nlohmann::ordered_json& tools) {
  std::string s =
      "You have access to the functions defined below. When calling one or more of them helps to answer, reply "
      "with only the calls, written as a Python list of function calls with keyword arguments:\n"
      "[function_name(param1=value1, param2=value2), other_function(param=value)]\n"
      "Use the parameter names from the definitions and JSON-style literals for the values. Do not add any other "
      "text to such a reply. If none of the functions fits the request, answer in plain text instead.\n\n"
      "Function definitions, one JSON object per line:\n";
  for (const auto& t : tools) {
    const auto& f = t["function"];
    nlohmann::ordered_json def = nlohmann::ordered_json::object();
    def["name"] = f["name"];
    if (f.contains("description") && f["description"].is_string()) def["description"] = f["description"];
    def["parameters"] = f.contains("parameters") && f["parameters"].is_object() ? f["parameters"]
                                                                                 : nlohmann::ordered_json::object();
    s += python_json_dumps(def);
    s += '\n';
  }
  return s;
}

void add_tools_to_messages(const nlohmann::ordered_json& tools, std::vector<ChatMessage>& messages) {
  const std::string prompt = tools_system_prompt(tools);
  if (!messages.empty() && messages[0].role == "system") {
    ChatMessage& sys = messages[0];
    if (!sys.content_parts.empty()) {
      sys.content_parts.insert(sys.content_parts.begin(), prompt + "\n");
    } else {
      sys.content = sys.content.empty() ? prompt : prompt + "\n" + sys.content;
    }
    return;
  }
  ChatMessage sys;
  sys.role = "system";
  sys.content = prompt;
  messages.insert(messages.begin(), std::move(sys));
}

}  // namespace herd::server
