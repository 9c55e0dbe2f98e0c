// The script parser: one statement per line, words and quoted strings, `#` comments.
#include "script.hpp"

#include <csignal>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

namespace socklab::script {
namespace {

struct Token {
    bool quoted = false;
    std::string text;         // a word, or a string as written between its quotes
    std::uint64_t repeat = 1; // "x" * N
};

class LineParser {
public:
    LineParser(const std::string& path, int line) : where_(path + ":" + std::to_string(line) + ": ") {}

    [[noreturn]] void fail(const std::string& message) const { throw ScriptError(where_ + message); }

    // Splits a line into words and strings; a string may be followed by *N (repeat N times).
    std::vector<Token> tokenize(const std::string& line) const {
        std::vector<Token> tokens;
        std::size_t i = 0;
        while (i < line.size()) {
            const char c = line[i];
            if (c == ' ' || c == '\t' || c == '\r') {
                ++i;
            } else if (c == '#') {
                break;
            } else if (c == '"') {
                std::string raw = read_raw_string(line, i);
                std::uint64_t count = 1;
                std::size_t j = i;
                while (j < line.size() && line[j] == ' ') {
                    ++j;
                }
                if (j < line.size() && line[j] == '*') {
                    ++j;
                    while (j < line.size() && line[j] == ' ') {
                        ++j;
                    }
                    const std::size_t digits = j;
                    while (j < line.size() && std::isdigit(static_cast<unsigned char>(line[j]))) {
                        ++j;
                    }
                    if (j == digits || j - digits > 9) {
                        fail("a * after a string needs a count, as in \"x\" * 70000");
                    }
                    count = std::stoull(line.substr(digits, j - digits));
                    if (count * std::max<std::size_t>(raw.size(), 1) > std::uint64_t{64} * 1024 * 1024) {
                        fail("a repeated string may be at most 64 MiB");
                    }
                    i = j;
                }
                tokens.push_back({true, std::move(raw), count});
            } else {
                const std::size_t start = i;
                while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '"' &&
                       line[i] != '\r') {
                    ++i;
                }
                tokens.push_back({false, line.substr(start, i - start)});
            }
        }
        return tokens;
    }

private:
    // Reads "..." starting at line[i] (the quote), as written; leaves i after the closing quote.
    std::string read_raw_string(const std::string& line, std::size_t& i) const {
        const std::size_t start = ++i;
        while (i < line.size() && line[i] != '"') {
            i += line[i] == '\\' ? 2 : 1;
        }
        if (i >= line.size()) {
            fail("a string is not closed: a \" is missing");
        }
        return line.substr(start, i++ - start);
    }

public:
    // The bytes a string stands for. strict: an unknown escape is an error (bytes to send or
    // expect); otherwise it stays as written, backslash and all (a regular expression's \d).
    std::string decode(const std::string& raw, bool strict) const {
        std::string out;
        for (std::size_t i = 0; i < raw.size();) {
            if (raw[i] != '\\') {
                out += raw[i++];
                continue;
            }
            if (i + 1 >= raw.size()) {
                fail("a string ends with a lone backslash");
            }
            const char e = raw[i + 1];
            i += 2;
            switch (e) {
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case '0': out += '\0'; break;
            case '\\': out += strict ? "\\" : "\\\\"; break;
            case '"': out += '"'; break;
            case 'x': {
                if (i + 2 > raw.size() || !std::isxdigit(static_cast<unsigned char>(raw[i])) ||
                    !std::isxdigit(static_cast<unsigned char>(raw[i + 1]))) {
                    fail("\\x needs two hex digits, as in \\x00 or \\xff");
                }
                out += static_cast<char>(std::stoi(raw.substr(i, 2), nullptr, 16));
                i += 2;
                break;
            }
            default:
                if (strict) {
                    fail(std::string("unknown escape \\") + e + " (known: \\n \\r \\t \\0 \\\\ \\\" \\xHH)");
                }
                out += '\\';
                out += e;
            }
        }
        return out;
    }

private:
    std::string where_;
};

const std::regex kName("[a-z][a-z0-9_-]*");
const std::regex kDuration("([0-9]+)(ms|s)");

// The settings: statements that are not steps.
const std::set<std::string> kSettings = {"seed", "timeout", "docs", "check"};

// A word that starts a statement: a setting, or a step that stands alone.
bool starts_a_statement(const std::string& word) {
    const auto op = op_named(word);
    return kSettings.count(word) != 0 || (op && stands_alone(*op));
}

const std::map<std::string, int> kSignals = {{"TERM", SIGTERM}, {"INT", SIGINT},   {"KILL", SIGKILL},
                                             {"HUP", SIGHUP},   {"QUIT", SIGQUIT}, {"USR1", SIGUSR1}};

class StatementParser {
public:
    StatementParser(const LineParser& lp, std::vector<Token> tokens) : lp_(lp), tokens_(std::move(tokens)) {}

    bool done() const { return pos_ >= tokens_.size(); }

    const Token& peek() const { return tokens_[pos_]; }

    std::string word(const std::string& what) {
        if (done() || tokens_[pos_].quoted) {
            lp_.fail("expected " + what + (done() ? " at the end of the line" : ", found a string"));
        }
        return tokens_[pos_++].text;
    }

    std::string name(const std::string& what) {
        std::string n = word(what);
        if (!std::regex_match(n, kName)) {
            lp_.fail("'" + n + "' is not a valid " + what + " (lower-case letters, digits, - and _)");
        }
        return n;
    }

    std::int64_t number(const std::string& what) {
        const std::string w = word(what);
        if (w.empty() || w.find_first_not_of("0123456789") != std::string::npos || w.size() > 12) {
            lp_.fail("'" + w + "' is not a valid " + what + " (a whole number)");
        }
        return std::stoll(w);
    }

    Duration duration(const std::string& what) {
        const std::string w = word(what);
        std::smatch m;
        if (!std::regex_match(w, m, kDuration)) {
            lp_.fail("'" + w + "' is not a valid " + what + " (a duration such as 500ms or 2s)");
        }
        const auto n = std::stoll(m[1]);
        return m[2] == "s" ? Duration(n * 1000) : Duration(n);
    }

    // One or more strings in a row, joined.
    std::string bytes(const std::string& what, bool strict = true) {
        if (done() || !tokens_[pos_].quoted) {
            lp_.fail("expected " + what + " as a quoted string");
        }
        std::string out;
        while (!done() && tokens_[pos_].quoted) {
            const Token& t = tokens_[pos_++];
            const std::string piece = lp_.decode(t.text, strict);
            for (std::uint64_t k = 0; k < t.repeat; ++k) {
                out += piece;
            }
        }
        return out;
    }

    // A string as written, escapes and all (a check's name).
    std::string raw_string(const std::string& what) {
        if (done() || !tokens_[pos_].quoted || tokens_[pos_].repeat != 1) {
            lp_.fail("expected " + what + " as a quoted string");
        }
        return tokens_[pos_++].text;
    }

    bool optional_keyword(const std::string& keyword) {
        if (!done() && !tokens_[pos_].quoted && tokens_[pos_].text == keyword) {
            ++pos_;
            return true;
        }
        return false;
    }

    void finish(Step& step) {
        if (optional_keyword("within")) {
            step.within = duration("deadline after 'within'");
        }
        end();
    }

    void end() {
        if (!done()) {
            lp_.fail("unexpected '" + tokens_[pos_].text + "' at the end of the statement");
        }
    }

private:
    const LineParser& lp_;
    std::vector<Token> tokens_;
    std::size_t pos_ = 0;
};

std::string trim(const std::string& s) {
    const auto b = s.find_first_not_of(" \t\r");
    const auto e = s.find_last_not_of(" \t\r");
    return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

} // namespace

Script parse_script(const std::string& text, const std::string& path) {
    Script script;
    script.path = path;
    std::set<std::string> programs;    // names made by server and run
    std::set<std::string> connections; // names made by connect and accept
    std::set<std::string> listeners;   // names made by listen
    const auto defined = [&](const std::string& n) {
        return programs.count(n) + connections.count(n) + listeners.count(n) > 0;
    };
    std::istringstream in(text);
    std::string raw;
    int line_number = 0;
    while (std::getline(in, raw)) {
        ++line_number;
        const LineParser lp(path, line_number);
        auto tokens = lp.tokenize(raw);
        if (tokens.empty()) {
            continue;
        }
        StatementParser p(lp, tokens);
        Step step;
        step.line = line_number;
        step.text = trim(raw.substr(0, raw.find(" #")));
        const std::string first = p.word("a statement");
        const auto define = [&](std::set<std::string>& set, const std::string& n) {
            if (starts_a_statement(n)) {
                lp.fail("'" + n +
                        "' is a statement, so it cannot name a program or connection (say srv, lab04, a)");
            }
            if (defined(n)) {
                lp.fail("the name '" + n + "' is already used");
            }
            set.insert(n);
        };
        if (!starts_a_statement(first)) {
            // NAME VERB ...
            if (!defined(first)) {
                lp.fail("'" + first +
                        "' is neither a statement nor a name defined above (by server, run, "
                        "connect, accept or listen)");
            }
            step.subject = first;
            const std::string verb = p.word("what to do with " + first);
            const auto op = op_named(verb);
            if (!op || stands_alone(*op)) {
                lp.fail("unknown action '" + verb + "' (see docs/reference/scripts.md)");
            }
            step.op = *op;
            const bool is_program = programs.count(first) > 0;
            if (listeners.count(first) > 0) {
                lp.fail("'" + first + "' is a listener: accept a connection from it first");
            }
            if (for_programs_only(step.op) && !is_program) {
                std::string why = verb;
                why += " needs a program started by server or run; '";
                why += first;
                why += "' is a connection";
                lp.fail(why);
            }
            if (step.op == Op::Send) {
                step.data = p.bytes("the bytes to send");
            } else if (step.op == Op::SendSplit) {
                step.number = p.number("fragment size");
                if (step.number < 1) {
                    lp.fail("the fragment size must be at least 1");
                }
                step.data = p.bytes("the bytes to send");
                if (p.optional_keyword("gap")) {
                    step.duration = p.duration("gap between fragments");
                }
            } else if (step.op == Op::SendRandom) {
                step.number = p.number("smallest fragment size");
                step.number2 = p.number("largest fragment size");
                if (step.number < 1 || step.number2 < step.number) {
                    lp.fail("send-random MIN MAX needs 1 <= MIN <= MAX");
                }
                step.data = p.bytes("the bytes to send");
                if (p.optional_keyword("gap")) {
                    step.duration = p.duration("gap between fragments");
                }
            } else if (step.op == Op::ExpectLine || step.op == Op::ExpectBytes) {
                step.data = p.bytes("the expected bytes");
            } else if (step.op == Op::ExpectRegex || step.op == Op::ExpectStderr) {
                step.data = p.bytes("a regular expression", false);
                try {
                    // {NAME.port} is filled in when the step runs; check the rest now.
                    static const std::regex placeholder(R"(\{[a-z][a-z0-9_-]*\.(port|endpoint)\})");
                    std::regex check(std::regex_replace(step.data, placeholder, "1"));
                } catch (const std::regex_error& e) {
                    lp.fail("the regular expression \"" + step.data + "\" is not valid: " + e.what());
                }
            } else if (step.op == Op::ExpectSilence) {
                step.duration = p.duration("how long to expect silence");
            } else if (step.op == Op::Signal) {
                const std::string sig = p.word("a signal name (TERM, INT, KILL, HUP, QUIT, USR1)");
                const auto it = kSignals.find(sig);
                if (it == kSignals.end()) {
                    lp.fail("unknown signal '" + sig + "' (known: TERM, INT, KILL, HUP, QUIT, USR1)");
                }
                step.number = it->second;
                step.data = sig;
            } else if (step.op == Op::ExpectExit) {
                step.number = p.number("exit code");
                if (step.number > 255) {
                    lp.fail("an exit code is 0 to 255");
                }
            }
            if (step.op == Op::ExpectSilence || step.op == Op::Send || step.op == Op::SendSplit ||
                step.op == Op::SendRandom || step.op == Op::Shutdown || step.op == Op::Close ||
                step.op == Op::Reset || step.op == Op::Signal) {
                p.end();
            } else {
                p.finish(step);
            }
            if (step.op == Op::Close || step.op == Op::Reset) {
                if (is_program) {
                    lp.fail(verb + " is for connections; for a program's input use shutdown");
                }
            }
            script.steps.push_back(std::move(step));
            continue;
        }
        if (first == "seed") {
            script.seed = static_cast<std::uint64_t>(p.number("seed"));
            p.end();
            continue;
        }
        if (first == "timeout") {
            script.timeout = p.duration("default deadline");
            p.end();
            continue;
        }
        if (first == "docs") {
            const std::string section = p.word("a docs section such as docs/labs/04-framing.md#section");
            p.end();
            if (script.checks.empty()) {
                script.docs = section;
            } else if (Check& check = script.checks.back(); check.docs_given) {
                check.more_docs.push_back(section);
            } else {
                check.docs = section;
                check.docs_given = true;
            }
            continue;
        }
        if (first == "check") {
            Check check;
            check.name = p.raw_string("the check's name");
            check.line = line_number;
            check.docs = script.docs;
            if (p.optional_keyword("points")) {
                check.points = static_cast<int>(p.number("points"));
            }
            check.hidden = p.optional_keyword("hidden");
            p.end();
            check.first = script.steps.size();
            if (script.checks.empty()) {
                script.setup_end = script.steps.size();
            } else {
                script.checks.back().end = script.steps.size();
            }
            for (const auto& other : script.checks) {
                if (other.name == check.name) {
                    lp.fail("two checks are named \"" + check.name + "\"");
                }
            }
            script.checks.push_back(std::move(check));
            continue;
        }
        step.op = *op_named(first); // a step that stands alone: the settings are done above
        if (step.op == Op::Server || step.op == Op::Run) {
            step.subject = p.name("program name");
            define(programs, step.subject);
            step.words.push_back(p.word("the program to start"));
            while (!p.done()) {
                if (step.op == Op::Server && !p.peek().quoted && p.peek().text == "within") {
                    p.finish(step); // how long to wait for its listening line
                    break;
                }
                step.words.push_back(p.peek().quoted ? p.bytes("an argument") : p.word("an argument"));
            }
        } else if (step.op == Op::Listen) {
            step.subject = p.name("listener name");
            define(listeners, step.subject);
            p.end();
        } else if (step.op == Op::Accept) {
            step.subject = p.name("connection name");
            define(connections, step.subject);
            if (!p.optional_keyword("from")) {
                lp.fail("accept NAME from LISTENER: 'from' is missing");
            }
            const std::string from = p.word("the listener to accept from");
            if (listeners.count(from) == 0) {
                lp.fail("'" + from + "' is not a listener defined above (listen NAME)");
            }
            step.words.push_back(from);
            p.finish(step);
        } else if (step.op == Op::Pause) {
            step.duration = p.duration("how long to pause");
            p.end();
        } else if (step.op == Op::Connect) {
            step.subject = p.name("connection name");
            define(connections, step.subject);
            if (p.optional_keyword("to")) {
                step.words.push_back(p.word("a server name or HOST:PORT"));
            }
            p.finish(step);
        } else if (step.op == Op::ExpectRefused) {
            if (!p.done() && !p.peek().quoted && p.peek().text != "within") {
                step.words.push_back(p.word("a server name or HOST:PORT"));
            }
            p.finish(step);
        }
        script.steps.push_back(std::move(step));
    }
    if (script.checks.empty()) {
        script.setup_end = 0;
        Check whole;
        whole.name = path.substr(path.find_last_of('/') + 1);
        whole.docs = script.docs;
        whole.first = 0;
        whole.end = script.steps.size();
        script.checks.push_back(whole);
    } else {
        script.checks.back().end = script.steps.size();
    }
    return script;
}

Script load_script(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    if (!file) {
        throw ScriptError(path + ": cannot read the script (does the file exist?)");
    }
    std::ostringstream text;
    text << file.rdbuf();
    return parse_script(text.str(), path);
}

} // namespace socklab::script
