"""SCons build script of the tinyedge-emulated PlatformIO platform.

Builds the project's src/ and lib/ with arm-none-eabi-gcc from PATH and adds, for the board's QEMU
machine, tinyedge's start-up code (platform/cortex-m), machine description and linker script
(platform/<machine>) and bare-metal port (port/<port>), from the platform's support/ folder. The result is
.pio/build/<env>/firmware.elf, ready for `qemu-system-arm -kernel`.
"""

from os.path import dirname, isdir, join, realpath, relpath

from SCons.Script import AlwaysBuild, Default, DefaultEnvironment

env = DefaultEnvironment()
platform = env.PioPlatform()
board = env.BoardConfig()

# In a generated project the platform carries what it compiles in support/; in tinyedge's own
# firmware/ folder the same files are the platform folder's siblings.
PLATFORM_DIR = realpath(platform.get_dir())
FIRMWARE_DIR = join(PLATFORM_DIR, "support") if isdir(join(PLATFORM_DIR, "support")) else dirname(PLATFORM_DIR)
STARTUP_DIR = join(FIRMWARE_DIR, "platform", "cortex-m")
CMSDK_DIR = join(FIRMWARE_DIR, "platform", "cmsdk")
MACHINE_DIR = join(FIRMWARE_DIR, "platform", board.get("build.machine"))
PORT_DIR = join(FIRMWARE_DIR, "port", board.get("build.port"))
for folder in (STARTUP_DIR, CMSDK_DIR, MACHINE_DIR, PORT_DIR):
    if not isdir(folder):
        env.Exit("Error: %s is missing; regenerate the project with tinyedge build" % folder)

# The same code generation flags as tinyedge's Board.gcc_flags() (a test keeps them equal).
CPU_FLAGS = list(board.get("build.cpu_flags"))

env.Replace(
    AR="arm-none-eabi-gcc-ar",
    AS="arm-none-eabi-as",
    CC="arm-none-eabi-gcc",
    CXX="arm-none-eabi-g++",
    GDB="arm-none-eabi-gdb",
    OBJCOPY="arm-none-eabi-objcopy",
    RANLIB="arm-none-eabi-gcc-ranlib",
    SIZETOOL="arm-none-eabi-size",
    ARFLAGS=["rc"],
    PROGNAME="firmware",
    PROGSUFFIX=".elf",
    LDSCRIPT_PATH=join(MACHINE_DIR, board.get("build.ldscript")),
)

env.Append(
    ASFLAGS=CPU_FLAGS,
    ASPPFLAGS=["-x", "assembler-with-cpp"],
    CCFLAGS=CPU_FLAGS + [
        "-O2",
        "-Wall",
        "-ffunction-sections",  # with --gc-sections: unused functions and data leave the image
        "-fdata-sections",
    ],
    CXXFLAGS=["-fno-rtti", "-fno-exceptions", "-fno-threadsafe-statics"],
    CPPDEFINES=["TINYEDGE_EMULATED", ("F_CPU", "$BOARD_F_CPU")],
    CPPPATH=[join(FIRMWARE_DIR, "port"), STARTUP_DIR, CMSDK_DIR, MACHINE_DIR],
    LINKFLAGS=CPU_FLAGS + [
        "--specs=nano.specs",  # newlib-nano: small printf/malloc
        "-nostartfiles",       # our start-up code replaces crt0
        "-Wl,--gc-sections",
        # Relative to the folder SCons runs in: SCons splits flags at spaces, and a project may sit
        # in a folder whose path has one.
        "-Wl,-Map=%s" % relpath(join(env.subst("$BUILD_DIR"), "firmware.map")),
    ],
    LIBPATH=[STARTUP_DIR],  # the machine's linker script INCLUDEs sections.ld from here
    LIBS=["m"],
)

env.BuildSources(join("$BUILD_DIR", "tinyedge_startup"), STARTUP_DIR)
env.BuildSources(join("$BUILD_DIR", "tinyedge_port"), PORT_DIR)

target_elf = env.BuildProgram()
AlwaysBuild(env.Alias("nobuild", target_elf))
env.Alias("buildprog", target_elf, target_elf)

target_size = env.AddPlatformTarget(
    "size",
    target_elf,
    env.VerboseAction("$SIZETOOL -B -d $SOURCES", "Calculating size $SOURCE"),
    "Program Size",
    "Flash (text + data) and RAM (data + bss, stack and heap included) of the firmware",
)

Default([target_elf, target_size])
