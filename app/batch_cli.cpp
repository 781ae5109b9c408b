#include "app/batch_cli.hpp"

#include <openssl/rand.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <thread>

#include "app/batch_status.hpp"
#include "observability/metrics.hpp"
#include "util/http_client.hpp"

namespace lgsp::app {

namespace fs = std::filesystem;
using util::HttpAnswer;
using util::HttpClient;
using util::query_escape;
using util::TransportError;

std::string UploadKind::content_type() const {
  return format == "csv" ? "text/csv" : "application/x-ndjson";
}

std::variant<UploadKind, std::string> upload_kind(std::string_view path, std::string_view format) {
  std::string name = fs::path(path).filename().string();
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  UploadKind kind;
  if (name.size() > 3 && name.ends_with(".gz")) {
    kind.gzip = true;
    name.resize(name.size() - 3);
  }
  if (!format.empty()) {
    kind.format = std::string(format);
  } else if (name.ends_with(".ndjson") || name.ends_with(".jsonl")) {
    kind.format = "ndjson";
  } else if (name.ends_with(".csv")) {
    kind.format = "csv";
  } else {
    return "cannot tell the format of " + std::string(path) +
           " from its name: name it .ndjson, .jsonl or .csv (then .gz if gzip-compressed), or "
           "pass --format ndjson|csv";
  }
  return kind;
}

std::string submit_target(const SubmitOptions& o) {
  std::string t = "/v1/batches?registry=" + query_escape(o.registry) +
                  "&operation=" + query_escape(o.operation) + "&purpose=" + query_escape(o.purpose);
  if (!o.procedure_code.empty()) t += "&procedure_code=" + query_escape(o.procedure_code);
  return t;
}

namespace {

/// An API key or idempotency key goes into a header: visible ASCII only (no header injection).
bool header_token(std::string_view s) {
  return !s.empty() && s.size() <= 1024 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7F; });
}

}  // namespace

std::variant<std::string, std::string> load_api_key(const std::string& key_file) {
  using Result = std::variant<std::string, std::string>;
  std::string key;
  std::string from;
  // NOLINTNEXTLINE(concurrency-mt-unsafe): the CLI reads it once; nothing sets it.
  const char* env = std::getenv("LGSP_API_KEY");
  if (!key_file.empty()) {
    std::ifstream in(key_file);
    if (!in) return Result(std::in_place_index<1>, "cannot read the API key file " + key_file);
    std::getline(in, key);
    from = "the API key file " + key_file;
  } else if (env != nullptr) {
    key = env;
    from = "LGSP_API_KEY";
  } else {
    return Result(std::in_place_index<1>,
                  "no API key: pass --key-file FILE (a file holding the key) or set LGSP_API_KEY");
  }
  const auto first = key.find_first_not_of(" \t\r\n");
  key = first == std::string::npos ? ""
                                   : key.substr(first, key.find_last_not_of(" \t\r\n") - first + 1);
  if (key.empty()) return Result(std::in_place_index<1>, from + " is empty");
  if (!header_token(key)) {
    return Result(std::in_place_index<1>,
                  from + " holds characters an API key cannot have (spaces or control characters)");
  }
  return Result(std::in_place_index<0>, std::move(key));
}

namespace {

constexpr int kRetries = 3;

std::string fresh_idempotency_key() {
  unsigned char raw[24];
  if (RAND_bytes(raw, sizeof raw) != 1) throw std::runtime_error("no randomness from OpenSSL");
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string key = "lgsp-";
  for (const unsigned char b : raw) key += kAlphabet[b % 62];
  return key;
}

/// A client and the key, or what stopped us making one.
struct Api {
  std::unique_ptr<HttpClient> client;
  std::string key;

  HttpClient::Headers headers(HttpClient::Headers extra = {}) const {
    extra["Authorization"] = "Bearer " + key;
    if (!extra.contains("Accept")) extra["Accept"] = "application/json, application/problem+json";
    return extra;
  }
};

std::optional<Api> open_api(const BatchConnection& c, std::ostream& err) {
  auto url = util::parse_http_url(c.gateway, "the gateway URL",
                                  "pass the API key with --key-file or LGSP_API_KEY");
  if (const auto* e = std::get_if<std::string>(&url)) {
    err << "error: " << *e << " (--gateway " << c.gateway << ")\n";
    return std::nullopt;
  }
  auto key = load_api_key(c.key_file);
  if (key.index() == 1) {
    err << "error: " << std::get<1>(key) << "\n";
    return std::nullopt;
  }
  if (!c.key_file.empty()) {
    std::error_code ec;
    const auto perms = fs::status(c.key_file, ec).permissions();
    if (!ec && (perms & (fs::perms::group_all | fs::perms::others_all)) != fs::perms::none) {
      err << "warning: " << c.key_file << " can be read by other users; chmod 600 it\n";
    }
  }
  util::HttpClientOptions options;
  options.ca_file = c.cacert;
  options.user_agent = "lgsp/" + std::string(obs::version());
  Api api;
  api.client = std::make_unique<HttpClient>(std::get<util::HttpUrl>(url), options);
  api.key = std::get<0>(std::move(key));
  return api;
}

void print_problem(std::ostream& err, const HttpAnswer& a) {
  for (const auto& line : problem_lines(a.status, a.body)) err << line << "\n";
}

bool worth_retrying(const HttpAnswer& a) { return a.status >= 500 || a.status == 429; }

/// Runs `attempt` again after a dropped connection or a 5xx/429 answer, up to kRetries times;
/// returns the last answer, or throws the last TransportError.
HttpAnswer with_retries(const BatchConnection& c, std::ostream& err,
                        const std::function<HttpAnswer()>& attempt) {
  for (int n = 1;; ++n) {
    std::string why;
    std::chrono::milliseconds pause = c.retry_pause * n;
    try {
      HttpAnswer a = attempt();
      if (!worth_retrying(a) || n > kRetries) return a;
      why = "the gateway answered " + std::to_string(a.status);
      // Retry-After in seconds, within reason.
      if (const std::string ra = a.header("retry-after");
          !ra.empty() &&
          std::all_of(ra.begin(), ra.end(), [](char ch) { return ch >= '0' && ch <= '9'; }) &&
          ra.size() < 4) {
        pause = std::min(std::chrono::milliseconds(std::stoi(ra) * 1000),
                         std::chrono::milliseconds(30000));
      }
    } catch (const TransportError& e) {
      if (!e.retryable() || n > kRetries) throw;
      why = e.what();
    }
    err << "note: " << why << "; retry " << n << " of " << kRetries << " in "
        << static_cast<double>(pause.count()) / 1000 << " s\n";
    std::this_thread::sleep_for(pause);
  }
}

std::string job_path(const std::string& id) { return "/v1/batches/" + query_escape(id); }

/// GET the job's status: the status, or nullopt after printing why not.
std::optional<BatchStatus> get_status(const BatchConnection& c, const Api& api,
                                      const std::string& id, std::ostream& err) {
  const HttpAnswer a =
      with_retries(c, err, [&] { return api.client->call("GET", job_path(id), api.headers()); });
  if (a.status != 200) {
    print_problem(err, a);
    return std::nullopt;
  }
  auto s = parse_batch_status(a.body);
  if (const auto* e = std::get_if<std::string>(&s)) {
    err << "error: " << *e << "\n";
    return std::nullopt;
  }
  return std::get<BatchStatus>(std::move(s));
}

/// Runs a command body, turning what it throws into "error: ..." and exit code 1.
int guarded(std::ostream& err, const std::function<int()>& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    err << "error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace

std::optional<std::string> submit_job(const BatchConnection& c, const SubmitOptions& o,
                                      std::ostream& err) {
  auto kind = upload_kind(o.file, o.format);
  if (const auto* e = std::get_if<std::string>(&kind)) {
    err << "error: " << *e << "\n";
    return std::nullopt;
  }
  std::error_code ec;
  if (!fs::is_regular_file(o.file, ec)) {
    err << "error: " << o.file << " is not a readable file\n";
    return std::nullopt;
  }
  auto api = open_api(c, err);
  if (!api) return std::nullopt;
  std::string idem = o.idempotency_key;
  if (idem.empty()) {
    idem = fresh_idempotency_key();
    err << "idempotency key: " << idem << " (to retry this upload safely: --idempotency-key "
        << idem << ")\n";
  } else if (!header_token(idem)) {
    err << "error: the idempotency key must be visible ASCII characters, no spaces\n";
    return std::nullopt;
  }
  const auto& k = std::get<UploadKind>(kind);
  HttpClient::Headers headers{{"Content-Type", k.content_type()}, {"Idempotency-Key", idem}};
  if (k.gzip) headers["Content-Encoding"] = "gzip";
  const HttpAnswer a = with_retries(c, err, [&] {
    return api->client->upload("POST", submit_target(o), api->headers(headers), o.file);
  });
  if (a.status < 200 || a.status > 299) {
    print_problem(err, a);
    return std::nullopt;
  }
  auto s = parse_batch_status(a.body);
  if (auto* status = std::get_if<BatchStatus>(&s)) return std::move(status->id);
  // No status body: the job is where Location says.
  if (const std::string loc = a.header("location"); loc.find("/v1/batches/") != std::string::npos) {
    return loc.substr(loc.rfind('/') + 1);
  }
  err << "error: " << std::get<std::string>(s) << " (HTTP " << a.status << ")\n";
  return std::nullopt;
}

int batch_submit(const BatchConnection& c, const SubmitOptions& o, std::ostream& out,
                 std::ostream& err) {
  return guarded(err, [&] {
    const auto id = submit_job(c, o, err);
    if (!id) return 1;
    out << *id << "\n" << std::flush;
    return 0;
  });
}

int batch_watch(const BatchConnection& c, const WatchOptions& o, bool tty, std::ostream& out,
                std::ostream& err) {
  return guarded(err, [&] {
    auto api = open_api(c, err);
    if (!api) return 1;
    const auto interval = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::duration<double>(std::max(o.interval_seconds, 0.01)));
    for (;;) {
      const auto s = get_status(c, *api, o.id, err);
      if (!s) {
        if (tty) out << "\n";
        return 1;
      }
      if (tty) {
        // \r and erase-to-end-of-line: one line redrawn in place.
        out << "\r" << progress_bar_line(*s) << "\x1b[K" << std::flush;
      } else {
        out << progress_plain_line(*s) << "\n" << std::flush;
      }
      if (s->finished()) {
        if (tty) out << "\n";
        out << summary_line(*s, tty) << "\n" << std::flush;
        if (tty && s->state == "completed") {
          err << "results: lgsp batch results " << s->id << " -o FILE\n";
        }
        return s->state == "completed" ? 0 : 2;
      }
      std::this_thread::sleep_for(interval);
    }
  });
}

int batch_results(const BatchConnection& c, const ResultsOptions& o, std::ostream& out,
                  std::ostream& err) {
  return guarded(err, [&] {
    auto api = open_api(c, err);
    if (!api) return 1;
    const auto s = get_status(c, *api, o.id, err);
    if (!s) return 1;
    if (s->state != "completed" && !o.partial) {
      err << "error: job " << o.id << " is " << s->state << " (" << group_thousands(s->counts.done)
          << " of " << group_thousands(s->counts.total) << " records answered); "
          << (s->finished() ? "" : "wait with `lgsp batch watch " + o.id + "`, or ")
          << "pass --partial to save the answered records\n";
      return 1;
    }
    const std::string part = o.output + ".part";
    std::int64_t lines = 0;
    const std::string accept = (o.format == "csv" ? "text/csv" : "application/x-ndjson") +
                               std::string(", application/problem+json");
    HttpAnswer a;
    try {
      a = with_retries(c, err, [&] {
        // Each attempt starts the file over: the answer is the results from the first record.
        std::ofstream file(part, std::ios::binary | std::ios::trunc);
        if (!file) throw std::runtime_error("cannot write " + part);
        lines = 0;
        char last = '\n';
        const std::string target =
            job_path(o.id) + "/results" + (o.format == "csv" ? "?format=csv" : "");
        HttpAnswer answer = api->client->download(
            target, api->headers({{"Accept", accept}}), [&](std::string_view piece) {
              file.write(piece.data(), static_cast<std::streamsize>(piece.size()));
              if (!file) throw std::runtime_error("cannot write " + part);
              lines += std::count(piece.begin(), piece.end(), '\n');
              last = piece.back();
            });
        if (last != '\n') ++lines;  // a last line without its newline
        file.close();
        if (!file) throw std::runtime_error("cannot write " + part);
        return answer;
      });
    } catch (...) {
      std::error_code ignored;
      fs::remove(part, ignored);  // no half file left behind
      throw;
    }
    if (a.status != 200) {
      fs::remove(part);
      print_problem(err, a);
      return 1;
    }
    fs::rename(part, o.output);
    out << lines << " lines written to " << o.output << "\n";
    return 0;
  });
}

int batch_cancel(const BatchConnection& c, const std::string& id, std::ostream& out,
                 std::ostream& err) {
  return guarded(err, [&] {
    auto api = open_api(c, err);
    if (!api) return 1;
    const HttpAnswer a = with_retries(
        c, err, [&] { return api->client->call("DELETE", job_path(id), api->headers()); });
    if (a.status != 200) {
      print_problem(err, a);
      return 1;
    }
    const auto s = parse_batch_status(a.body);
    if (const auto* status = std::get_if<BatchStatus>(&s)) {
      out << "job " << id << " " << status->state << " (" << group_thousands(status->counts.done)
          << " of " << group_thousands(status->counts.total) << " records answered)\n";
    } else {
      out << "job " << id << " cancelled\n";
    }
    return 0;
  });
}

BatchCommands::BatchCommands(CLI::App& app) {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): read while parsing the command line, one thread.
  if (const char* g = std::getenv("LGSP_GATEWAY"); g != nullptr && *g != '\0') {
    connection_.gateway = g;
  }
  auto* batch = app.add_subcommand(
      "batch", "Bulk jobs: submit a file of records, watch the job, fetch its results");
  batch->require_subcommand(1);
  const std::string version = "lgsp " + std::string(obs::version());
  batch->set_version_flag("--version", version);
  const auto common = [&](CLI::App* sub) {
    sub->set_version_flag("--version", version);
    sub->add_option("--gateway", connection_.gateway,
                    "Gateway URL, http:// or https:// (default: LGSP_GATEWAY, else "
                    "http://127.0.0.1:8080)");
    sub->add_option("--key-file", connection_.key_file,
                    "File holding the API key (default: the LGSP_API_KEY environment variable)")
        ->check(CLI::ExistingFile);
    sub->add_option("--cacert", connection_.cacert,
                    "PEM file of CA certificates to verify an https gateway (default: the "
                    "system's)")
        ->check(CLI::ExistingFile);
  };

  submit_ = batch->add_subcommand("submit",
                                  "Upload a file of records as a bulk job and print the job id");
  common(submit_);
  submit_
      ->add_option("file", submit_options_.file,
                   "The records: .ndjson/.jsonl (one JSON object per line) or .csv (a header "
                   "row naming the members), each optionally .gz; sent as is")
      ->required()
      ->check(CLI::ExistingFile);
  submit_->add_option("--registry", submit_options_.registry, "Registry, e.g. population")
      ->required();
  submit_->add_option("--operation", submit_options_.operation, "Operation")->capture_default_str();
  submit_->add_option("--purpose", submit_options_.purpose, "Purpose of the processing")
      ->required();
  submit_->add_option("--procedure-code", submit_options_.procedure_code,
                      "Administrative procedure code");
  submit_
      ->add_option("--format", submit_options_.format,
                   "Record format (default: from the file name)")
      ->check(CLI::IsMember({"ndjson", "csv"}));
  submit_->add_option("--idempotency-key", submit_options_.idempotency_key,
                      "Key that makes a repeated upload return the same job (default: a fresh "
                      "random key, printed)");
  submit_->add_flag("--watch", then_watch_, "Then watch the job until it finishes");
  submit_
      ->add_option("--interval", watch_options_.interval_seconds,
                   "With --watch: seconds between polls")
      ->capture_default_str()
      ->check(CLI::Range(0.2, 3600.0));

  watch_ = batch->add_subcommand(
      "watch", "Show a job's progress until it finishes (exit 0 completed, 2 failed or cancelled)");
  common(watch_);
  watch_->add_option("id", watch_options_.id, "Job id")->required();
  watch_->add_option("--interval", watch_options_.interval_seconds, "Seconds between polls")
      ->capture_default_str()
      ->check(CLI::Range(0.2, 3600.0));

  results_ = batch->add_subcommand(
      "results", "Save a completed job's results (one line per record, in input order)");
  common(results_);
  results_->add_option("id", results_options_.id, "Job id")->required();
  results_
      ->add_option("-o,--output", results_options_.output,
                   "File to write (written as FILE.part, renamed when complete)")
      ->required();
  results_->add_option("--format", results_options_.format, "Results format")
      ->capture_default_str()
      ->check(CLI::IsMember({"ndjson", "csv"}));
  results_->add_flag("--partial", results_options_.partial,
                     "Save the answered records of a job that has not completed");

  cancel_ = batch->add_subcommand("cancel", "Cancel a queued or running job");
  common(cancel_);
  cancel_->add_option("id", cancel_id_, "Job id")->required();
}

std::optional<int> BatchCommands::run() {
  const bool tty = ::isatty(STDOUT_FILENO) == 1;
  if (*submit_) {
    return guarded(std::cerr, [&] {
      const auto id = submit_job(connection_, submit_options_, std::cerr);
      if (!id) return 1;
      std::cout << *id << "\n" << std::flush;
      if (!then_watch_) return 0;
      watch_options_.id = *id;
      return batch_watch(connection_, watch_options_, tty, std::cout, std::cerr);
    });
  }
  if (*watch_) return batch_watch(connection_, watch_options_, tty, std::cout, std::cerr);
  if (*results_) return batch_results(connection_, results_options_, std::cout, std::cerr);
  if (*cancel_) return batch_cancel(connection_, cancel_id_, std::cout, std::cerr);
  return std::nullopt;
}

}  // namespace lgsp::app
