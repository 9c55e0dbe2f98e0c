// Scoring one lab (score.cpp): each rubric group's points shared out among its counted items, the
// script checks by their weights, the lab's total, and the docs section to read first. A rubric
// that names what the lab does not have stops the grade (TreeError).
#pragma once

#include "model.hpp"
#include "rubric.hpp"

#include <string>

namespace socklab::grade {

// Shares out each group's points among its items, and adds them up. hidden: the hidden scripts
// ran (--hidden); rubric_path names the rubric in the errors about its names.
void score(const LabRubric& lr, Lab& lab, bool hidden, const std::string& rubric_path);

} // namespace socklab::grade
