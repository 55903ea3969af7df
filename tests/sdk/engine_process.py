"""What the SDK suite does to a key-manager process it started (OpenBao, PyKMIP): pause
and resume it, kill it outright, stop it politely. Each engine's harness keeps its child
in `self.proc` and names itself in `self.name`."""
import signal
import subprocess
import time


class EngineProcess:
    name = "engine"
    proc = None

    def pause(self):
        """SIGSTOP, returning once the process is stopped (delivery is asynchronous)."""
        self.proc.send_signal(signal.SIGSTOP)
        deadline = time.monotonic() + 5
        while self._state() != "T":
            if time.monotonic() > deadline:
                raise RuntimeError("%s did not stop" % self.name)
            time.sleep(0.01)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def _state(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            return f.read().rsplit(") ", 1)[1][:1]

    def kill(self):
        """SIGKILL: no chance to flush or say goodbye."""
        self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self):
        """SIGTERM (after SIGCONT, should it be paused), SIGKILL if it lingers."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
