"""Independent ISO-TP peer for tests: python-can's `slcan` interface on a serial port + the can-isotp package.

Usage: python isotp-peer.py --port /dev/pts/N --bitrate 500000 --txid 0x7CC --rxid 0x7CD [--btr 0E1C]
                            [--blocksize 0] [--stmin 0] [--txdl 8]
stdin:  one JSON object per line: {"send": "<hex>"} sends a message; {"quit": true} exits.
stdout: {"ready": true} once set up; {"recv": "<hex>"} per received message; {"sent": n} after each send
        completes; {"error": "..."} on failures.
"""
import argparse
import json
import sys
import threading
import time

import can
import isotp


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", required=True)
    ap.add_argument("--bitrate", type=int, default=500000)
    ap.add_argument("--btr", default=None)
    ap.add_argument("--txid", type=lambda s: int(s, 0), required=True)
    ap.add_argument("--rxid", type=lambda s: int(s, 0), required=True)
    ap.add_argument("--blocksize", type=int, default=0)
    ap.add_argument("--stmin", type=int, default=0)
    ap.add_argument("--txdl", type=int, default=8, help="TX_DL: 8 classic, 12..64 CAN FD")
    args = ap.parse_args()

    out_lock = threading.Lock()

    def emit(obj: dict) -> None:
        with out_lock:
            sys.stdout.write(json.dumps(obj) + "\n")
            sys.stdout.flush()

    kwargs = {"sleep_after_open": 0}
    if args.btr:
        kwargs["btr"] = args.btr
    else:
        kwargs["bitrate"] = args.bitrate
    bus = can.Bus(interface="slcan", channel=args.port, **kwargs)
    notifier = can.Notifier(bus, [], timeout=0.01)
    address = isotp.Address(isotp.AddressingMode.Normal_11bits, txid=args.txid, rxid=args.rxid)
    params = {
        "stmin": args.stmin,
        "blocksize": args.blocksize,
        "tx_padding": 0xAA,
        "tx_data_length": args.txdl,
        "can_fd": args.txdl > 8,
        "max_frame_size": 1 << 20,
        "rx_flowcontrol_timeout": 2000,
        "rx_consecutive_frame_timeout": 2000,
        "blocking_send": False,
        "wftmax": 0,
    }
    stack = isotp.NotifierBasedCanStack(
        bus,
        notifier,
        address=address,
        params=params,
        error_handler=lambda e: emit({"error": f"{type(e).__name__}: {e}"}),
    )
    stack.start()
    emit({"ready": True})

    stop = threading.Event()

    def reader() -> None:
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            cmd = json.loads(line)
            if cmd.get("quit"):
                break
            data = bytes.fromhex(cmd["send"])
            stack.send(data)
            while stack.transmitting():
                time.sleep(0.001)
            emit({"sent": len(data)})
        stop.set()

    threading.Thread(target=reader, daemon=True).start()
    while not stop.is_set():
        msg = stack.recv(block=True, timeout=0.05)
        if msg is not None:
            emit({"recv": bytes(msg).hex()})
    stack.stop()
    notifier.stop()
    bus.shutdown()


if __name__ == "__main__":
    main()
