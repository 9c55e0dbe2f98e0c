// Building a submission into the instructor's tree (build.cpp): the grading build in the work
// folder, configured once and reused, and each graded lab's student files compiled in the sandbox,
// checked, and linked with the lab's given tests and programs. A failure of the instructor's tree
// throws TreeError; a submission's is in its Lab (build, build_log).
#pragma once

#include "grade.hpp"
#include "model.hpp"
#include "stage.hpp"

#include <string>
#include <vector>

namespace socklab::grade {

// Configures the grading build in ctx.build, unless it is configured already for ctx.files and
// the same --cumulative.
void configure(const Context& ctx);

// What every lab needs and no submission changes: the test main, the reference peer.
void build_shared(const Context& ctx);

// The names of the lab's programs (labs/NN-*/app/NAME.cpp), sorted.
[[nodiscard]] std::vector<std::string> programs_of(const Context& ctx, const ManifestLab& m);

// Compiles the lab's student files in the sandbox into graded/labNN/libgraded.a, checks the
// objects' symbols, then links the lab's tests and programs (given code) outside it. false, with
// the reason in lab, when the submission's code does not build or is refused.
[[nodiscard]] bool build_lab(const Context& ctx, const ManifestLab& m, Lab& lab);

// The sandboxed part of build_lab: graded/labNN/libgraded.a from the student's files, checked.
// With --cumulative, the labs below a graded one are compiled so too (they are linked into it).
[[nodiscard]] bool compile_lab(const Context& ctx, const ManifestLab& m, Lab& lab);

} // namespace socklab::grade
