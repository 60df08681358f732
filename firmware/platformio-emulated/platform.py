"""PlatformIO development platform for tinyedge's emulated boards.

Everything it needs is already on the machine (Debian's arm-none-eabi-gcc, and the start-up code and
port layer beside this folder), so it declares no packages and PlatformIO downloads nothing.
PlatformIO finds this class by the platform's name: "tinyedge-emulated" -> TinyedgeemulatedPlatform.
"""

from platformio.public import PlatformBase


class TinyedgeemulatedPlatform(PlatformBase):
    def is_embedded(self):
        return True
