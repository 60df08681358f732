"""Serial transports (a real pty, a real TCP socket with the host firmware behind it), the port lock,
discovery by USB id and the 1200-baud touch.

No USB board exists on this machine, so discovery and the touch run against a FAKE USB PORT LIST
(serial.tools.list_ports.comports monkeypatched); everything else is real.
"""

from __future__ import annotations

import os
import pty
import socket
import subprocess
import sys
import threading
from types import SimpleNamespace

import pytest

from tinyedge.boards import Catalogue
from tinyedge.device import ports as ports_module
from tinyedge.device.errors import PortBusy, TransportClosed, TransportTimeout
from tinyedge.device.lock import PortLock
from tinyedge.device.ports import find_port, touch_1200_baud
from tinyedge.device.protocol import DeviceSession, ModelIdentity
from tinyedge.device.transport import SerialTransport
from tinyedge.errors import TinyedgeError

from .conftest import MODEL_NAME, MODEL_SHA256, reference_model


@pytest.fixture(autouse=True)
def private_lock_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))


@pytest.fixture
def pty_pair():
    controller, device = pty.openpty()
    yield controller, os.ttyname(device)
    os.close(controller)
    os.close(device)


# ---- the lock --------------------------------------------------------------------------------------

def test_a_second_run_on_a_port_gets_a_clear_error(tmp_path):
    with PortLock("/dev/ttyACM7"):
        with pytest.raises(PortBusy) as error:
            PortLock("/dev/ttyACM7").acquire()
    assert str(error.value) == (f"serial port /dev/ttyACM7 is in use by another tinyedge run (pid {os.getpid()}) "
                                "(wait for that run to finish, or pick another port with --port)")
    with PortLock("/dev/ttyACM7") as again:  # released: free again
        assert again.held


def test_the_lock_holds_across_processes_and_port_names(tmp_path):
    real = tmp_path / "ttyACM0"
    real.touch()
    alias = tmp_path / "usb-Arduino_Nano_33_BLE-if00"
    alias.symlink_to(real)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from tinyedge.device.lock import PortLock; "
         "lock = PortLock(sys.argv[1]).acquire(); print('held', flush=True); sys.stdin.read()", str(real)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(PortBusy, match=rf"in use by another tinyedge run \(pid {holder.pid}\)"):
            PortLock(str(alias)).acquire()
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
    with PortLock(str(alias)):  # the kernel released the dead holder's lock
        pass


# ---- serial transports -----------------------------------------------------------------------------

def test_serial_transport_on_a_pty(pty_pair):
    controller, path = pty_pair
    with SerialTransport(path) as transport:
        os.write(controller, b"m-ready\r\nabc")
        assert transport.read_line(2) == "m-ready"
        with pytest.raises(TransportTimeout) as error:
            transport.read(5, 0.2)
        assert str(error.value) == f"{path} sent no 5 bytes within 0.2 s"
        os.write(controller, b"de")
        assert transport.read(5, 2) == b"abcde"
        transport.write(b"name%", 2)
        assert os.read(controller, 100) == b"name%"
        with pytest.raises(PortBusy):
            SerialTransport(path)


def test_a_missing_port_is_one_line():
    with pytest.raises(TinyedgeError) as error:
        SerialTransport("/dev/ttyACM99")
    assert str(error.value).startswith("cannot open serial port /dev/ttyACM99: ")
    assert str(error.value).endswith("(check the cable and the port name, or pick another one with --port)")
    assert "\n" not in str(error.value)
    with PortLock("/dev/ttyACM99"):  # a failed open leaves no lock behind
        pass


def test_the_firmware_behind_a_socket_url(host_firmware):
    """The host firmware with its stdin/stdout on a TCP connection, as QEMU serves its UART."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    processes = []

    def serve():
        connection, _ = server.accept()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as QEMU's nodelay=on
        processes.append(subprocess.Popen([str(host_firmware.path)], stdin=connection, stdout=connection))
        connection.close()

    thread = threading.Thread(target=serve)
    thread.start()
    url = f"socket://127.0.0.1:{port}"
    try:
        with DeviceSession(lambda: SerialTransport(url), expected=ModelIdentity(MODEL_NAME, MODEL_SHA256)) as session:
            data = bytes(range(0, 140, 2))
            assert session.run_sample(data).output == reference_model(data)
            thread.join()
            processes[0].kill()
            processes[0].wait()
            with pytest.raises(TransportClosed, match=rf"^the connection to {url} dropped: "):
                session.client.transport.read_line(2)
    finally:
        thread.join()
        server.close()


# ---- discovery by USB id (FAKE USB PORT LIST: no board is attached to this machine) -------------

def fake_usb_ports(monkeypatch, *listings):
    """Each call of comports() returns the next listing (the last one repeats)."""
    calls = iter(listings)
    last = []

    def comports():
        nonlocal last
        last = next(calls, last)
        return [SimpleNamespace(device=d, vid=v, pid=p, description=text) for d, v, p, text in last]

    monkeypatch.setattr(ports_module.list_ports, "comports", comports)


NANO = Catalogue.load().get("nano33")
UART = ("/dev/ttyS0", None, None, "n/a")
NANO_SKETCH = ("/dev/ttyACM0", 0x2341, 0x805A, "Nano 33 BLE")
NANO_BOOTLOADER = ("/dev/ttyACM1", 0x2341, 0x005A, "Nano 33 BLE bootloader")
OTHER_USB = ("/dev/ttyUSB0", 0x0403, 0x6001, "FT232R USB UART")


def test_one_matching_port_is_chosen(monkeypatch):
    fake_usb_ports(monkeypatch, [UART, OTHER_USB, NANO_SKETCH])
    assert find_port(NANO.title, NANO.serial.usb_ids) == "/dev/ttyACM0"
    assert find_port(NANO.title, NANO.serial.usb_ids, port="/dev/ttyUSB0") == "/dev/ttyUSB0"


def test_no_matching_port_lists_the_ports_and_the_flag(monkeypatch):
    fake_usb_ports(monkeypatch, [UART, OTHER_USB])
    with pytest.raises(TinyedgeError) as error:
        find_port(NANO.title, NANO.serial.usb_ids)
    assert str(error.value) == (
        "no serial port has the USB id of Arduino Nano 33 BLE Sense (2341:805a, 2341:005a); ports present: "
        "/dev/ttyS0, /dev/ttyUSB0 (0403:6001, FT232R USB UART) (connect the board, or pick a port with --port PORT)")


def test_two_matching_ports_ask_for_the_flag(monkeypatch):
    fake_usb_ports(monkeypatch, [NANO_SKETCH, NANO_BOOTLOADER, UART])
    with pytest.raises(TinyedgeError) as error:
        find_port(NANO.title, NANO.serial.usb_ids)
    assert str(error.value) == (
        "2 serial ports match Arduino Nano 33 BLE Sense: /dev/ttyACM0 (2341:805a, Nano 33 BLE), "
        "/dev/ttyACM1 (2341:005a, Nano 33 BLE bootloader) (pick one with --port PORT)")


def test_a_board_without_usb_ids_needs_the_flag(monkeypatch):
    fake_usb_ports(monkeypatch, [UART])
    with pytest.raises(TinyedgeError, match=r"has no USB ids to find its serial port by \(pick the port with --port PORT\)$"):
        find_port("Some board", [])


def test_touch_finds_the_bootloader_port_under_its_new_name(monkeypatch, pty_pair):
    _, path = pty_pair
    sketch = (path, 0x2341, 0x805A, "Nano 33 BLE")
    bootloader = ("/dev/ttyACM5", 0x2341, 0x005A, "Nano 33 BLE bootloader")
    # Before the touch; the board gone; the bootloader enumerated under a new name.
    fake_usb_ports(monkeypatch, [sketch, UART], [UART], [UART, bootloader])
    assert touch_1200_baud(path, NANO.serial.usb_ids, sleep=lambda seconds: None) == "/dev/ttyACM5"


def test_touch_accepts_the_same_name_coming_back(monkeypatch, pty_pair):
    _, path = pty_pair
    sketch = (path, 0x2341, 0x805A, "Nano 33 BLE")
    fake_usb_ports(monkeypatch, [sketch], [], [], [sketch])
    assert touch_1200_baud(path, NANO.serial.usb_ids, sleep=lambda seconds: None) == path


def test_touch_reports_a_board_that_never_comes_back(monkeypatch, pty_pair):
    _, path = pty_pair
    # The board leaves; only another device (not the board's USB ids) appears meanwhile.
    fake_usb_ports(monkeypatch, [(path, 0x2341, 0x805A, "Nano 33 BLE"), UART], [UART], [UART, OTHER_USB])
    with pytest.raises(TinyedgeError) as error:
        touch_1200_baud(path, NANO.serial.usb_ids, wait=1.0, sleep=lambda seconds: None)
    assert str(error.value) == (f"the board on {path} did not come back within 1 s after the 1200-baud reset "
                                "(press its reset button twice to start the bootloader, then pass the port with --port)")
