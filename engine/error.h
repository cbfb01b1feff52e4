#pragma once
// Error reporting for every engine entry point.
//
// Loaders and entry points report bad input as a moescope::Error whose message names the file, the
// offset or tensor, and the reason ("model.safetensors: tensor 'model.layers.0.mlp.gate.weight':
// data offsets [10, 4000) exceed the data section (1200 bytes)"). Internally code may throw Error;
// public entry points either return Result<T> or document that they throw Error. Nothing in the
// engine calls exit/abort on bad input.
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace moescope {

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Minimal expected-like result (std::expected is C++23; we target C++20 on GCC 12).
template <class T>
class Result {
public:
    Result(T value) : v_(std::move(value)) {}                       // NOLINT(implicit)
    Result(Error error) : v_(std::move(error)) {}                   // NOLINT(implicit)
    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() {
        if (!ok()) throw std::get<1>(v_);
        return std::get<0>(v_);
    }
    const T& value() const {
        if (!ok()) throw std::get<1>(v_);
        return std::get<0>(v_);
    }
    T& operator*() { return value(); }
    T* operator->() { return &value(); }
    const Error& error() const { return std::get<1>(v_); }
    std::string message() const { return ok() ? std::string() : std::string(std::get<1>(v_).what()); }

private:
    std::variant<T, Error> v_;
};

// Runs f() and converts a thrown Error (or std::exception) into a Result.
template <class F>
auto try_result(F&& f) -> Result<decltype(f())> {
    try {
        return f();
    } catch (const Error& e) {
        return e;
    } catch (const std::bad_alloc&) {
        return Error("out of memory");
    } catch (const std::exception& e) {
        return Error(e.what());
    }
}

}  // namespace moescope
