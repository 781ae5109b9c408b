#include "app/commands.hpp"

int main(int argc, char** argv) { return lgsp::app::run_cli(argc, argv); }
