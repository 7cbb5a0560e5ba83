"""A `ferry server` for a benchmark: its own data directory, ports picked by the kernel, the CLI pointed at
it. Shared by bench/autodeploy and bench/autoscale."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FERRY = os.path.join(ROOT, "target/release/ferry")


class Server:
    def __init__(self, *extra):
        self.dir = tempfile.mkdtemp(prefix="ferry-bench-")
        self.proc = subprocess.Popen(
            [FERRY, "server", "--data-dir", self.dir, "--api-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
             "--log", "warn", *extra],
            stdout=subprocess.PIPE, stderr=open(os.path.join(self.dir, "server.log"), "w"), text=True)
        for line in self.proc.stdout:
            m = re.match(r"ferry: api on http://([\d.:]+), apps on http://\*\.localhost:(\d+)", line)
            if m:
                self.api, self.http = m.group(1), int(m.group(2))
                break
        else:
            sys.exit("ferry server did not start; see " + self.dir)
        self.env = dict(os.environ, FERRY_API_URL=f"http://{self.api}",
                        FERRY_TOKEN=open(os.path.join(self.dir, "admin-token")).read().strip())

    def ferry(self, *args):
        return subprocess.run([FERRY, *args], env=self.env, check=True, capture_output=True, text=True).stdout

    def describe(self, name):
        return json.loads(self.ferry("service", "describe", name, "-o", "json"))

    def stop(self):
        for svc in json.loads(self.ferry("service", "list", "-o", "json"))["services"]:
            self.ferry("service", "delete", svc["name"], "--wait")
        self.proc.terminate()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
