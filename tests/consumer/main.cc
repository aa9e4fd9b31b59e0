// The 10-line program of the README's "Use it from C++": poses of one image.
#include <cstdio>

#include "rtmo/rtmo.h"

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  const rtmo::Model model = rtmo::Model::Load(argv[1]);  // "rtmo-s", a .rtmo or a .pth
  const std::vector<rtmo::Person> people = model.Predict(rtmo::LoadImage(argv[2]));
  std::printf("rtmo %s: %zu people\n", rtmo::Version(), people.size());
  return people.empty() ? 1 : 0;
}
