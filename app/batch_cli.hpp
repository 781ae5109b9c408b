#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace CLI {
class App;
}

namespace lgsp::app {

/// How to reach the gateway, shared by every `lgsp batch` command. The API key is never an
/// argument (it would show in `ps` and shell history): a file, or LGSP_API_KEY.
struct BatchConnection {
  std::string gateway = "http://127.0.0.1:8080";  // --gateway, else LGSP_GATEWAY
  std::string key_file;                           // --key-file
  std::string cacert;                             // --cacert (https only)
  /// Before the n-th retry the command waits n * retry_pause (tests make it short).
  std::chrono::milliseconds retry_pause{1000};
};

struct SubmitOptions {
  std::string file;
  std::string registry;
  std::string operation = "verify";
  std::string purpose;
  std::string procedure_code;
  std::string format;           // "", ndjson or csv ("": from the file name)
  std::string idempotency_key;  // "": a fresh random one
};

struct WatchOptions {
  std::string id;
  double interval_seconds = 2;
};

struct ResultsOptions {
  std::string id;
  std::string output;
  std::string format = "ndjson";
  bool partial = false;
};

/// What an upload is, from its name (`x.ndjson`, `x.jsonl`, `x.csv`, each maybe `.gz`) or the
/// --format given; the error says what to do.
struct UploadKind {
  std::string format;  // ndjson | csv
  bool gzip = false;
  std::string content_type() const;
};
std::variant<UploadKind, std::string> upload_kind(std::string_view path, std::string_view format);

/// `POST /v1/batches?...` for these options (values percent-encoded).
std::string submit_target(const SubmitOptions& o);

/// The API key from the file (first line, trimmed) or LGSP_API_KEY; the error says how to give
/// one. Never logs or echoes it.
std::variant<std::string, std::string> load_api_key(const std::string& key_file);

/// Uploads the file (retrying a dropped connection or a 5xx answer with the same idempotency
/// key) and returns the new job's id, or nullopt after telling `err` why not.
std::optional<std::string> submit_job(const BatchConnection& c, const SubmitOptions& o,
                                      std::ostream& err);

/// The commands, for tests and for the CLI; `out` gets the data (job id, progress), `err`
/// messages. Exit codes: 0 success; 1 an error; watch also 2 when the job failed or was
/// cancelled.
int batch_submit(const BatchConnection& c, const SubmitOptions& o, std::ostream& out,
                 std::ostream& err);
int batch_watch(const BatchConnection& c, const WatchOptions& o, bool tty, std::ostream& out,
                std::ostream& err);
int batch_results(const BatchConnection& c, const ResultsOptions& o, std::ostream& out,
                  std::ostream& err);
int batch_cancel(const BatchConnection& c, const std::string& id, std::ostream& out,
                 std::ostream& err);

/// `lgsp batch submit|watch|results|cancel`: declares the subcommands on `app` (the options
/// live in this object, so it must outlive parsing), then run() runs the chosen one.
class BatchCommands {
 public:
  explicit BatchCommands(CLI::App& app);
  BatchCommands(const BatchCommands&) = delete;
  BatchCommands& operator=(const BatchCommands&) = delete;

  /// The exit code of the chosen `batch` subcommand; nullopt when it was not chosen.
  std::optional<int> run();

 private:
  CLI::App* submit_ = nullptr;
  CLI::App* watch_ = nullptr;
  CLI::App* results_ = nullptr;
  CLI::App* cancel_ = nullptr;
  BatchConnection connection_;
  SubmitOptions submit_options_;
  bool then_watch_ = false;
  WatchOptions watch_options_;
  ResultsOptions results_options_;
  std::string cancel_id_;
};

}  // namespace lgsp::app
