#pragma once
// An error that the HTTP layer turns into an OpenAI-style error response:
//   {"error": {"message", "type", "param", "code"}} with the given HTTP status.
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace herd::server {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string message, std::string param = {}, std::string code = {},
           std::string type = "invalid_request_error")
      : std::runtime_error(message), status(status), param(std::move(param)), code(std::move(code)),
        type(std::move(type)) {}
  int status;
  std::string param, code, type;
};

// The JSON body of an error response.
inline nlohmann::json error_body(const std::string& message, const std::string& type, const std::string& param,
                                 const std::string& code) {
  nlohmann::json e = {{"message", message}, {"type", type}};
  e["param"] = param.empty() ? nlohmann::json(nullptr) : nlohmann::json(param);
  e["code"] = code.empty() ? nlohmann::json(nullptr) : nlohmann::json(code);
  return {{"error", e}};
}

inline nlohmann::json error_body(const ApiError& e) { return error_body(e.what(), e.type, e.param, e.code); }

// Serializes JSON that may hold model text: invalid UTF-8 (a random or partial token) becomes U+FFFD
// instead of an exception.
inline std::string dump_json(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace herd::server
