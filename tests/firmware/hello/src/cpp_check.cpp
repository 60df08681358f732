// A static C++ object: its constructor runs only if the start-up code calls the constructors.
namespace {
struct Marker {
    int value;
    Marker() : value(1) {}
};
Marker marker;
} // namespace

extern "C" int cpp_constructor_ran(void) { return marker.value; }
