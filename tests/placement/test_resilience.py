#!/usr/bin/env python3
# test_resilience.py: `ecs-place resilience` as people and CI use it: the
# table by default, the JSON document's shape as README.md documents it,
# exit 0 / 1 / 2, bad input files; and the picture: the lab 5 cluster's SVG
# is well-formed (xmllint), renders in a real browser (headless Chromium) to
# a PNG of the size it declares that is not blank, shows what it must (lost
# instances struck out, replacements marked, rejected ones greyed with the
# reason in <title>, a legend), and docs/lab5-resilience.svg is current.
# What happens to each cluster is in the case files (test_resilience_cases.py).
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402

BUILD = os.environ.get("HOSTD_BUILD", os.path.abspath("build"))
TOP = os.environ.get("HOSTD_TOP", os.path.abspath("."))
EXE = os.path.join(BUILD, "ecs-place")
FIX = os.path.join(TOP, "tests", "placement", "fixtures")
LAB5 = ["--instances", os.path.join(FIX, "lab5-instances.json"), "--tasks", os.path.join(FIX, "lab5-tasks.json"),
        "--services", os.path.join(FIX, "lab5-services.json"), "--task-definitions", os.path.join(FIX, "lab5-taskdefs")]
SURVIVES = os.path.join(FIX, "resilience", "survives")
# The picture in README.md, and how `make pictures` draws it.
PICTURE = os.path.join(TOP, "docs", "lab5-resilience.svg")
PICTURE_ARGS = ["--lose", "zone", "--show", "us-east-1a", "--output", "svg"]

TAP = harness.Tap()
report = TAP.ok  # report(ok, name, why="")


def run(*args):
    p = subprocess.run([EXE, "resilience", *args], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def survives_args(**replace):
    files = {"instances": "instances.json", "tasks": "tasks.json", "services": "services.json",
             "task-definitions": "taskdefs"}
    files.update(replace)
    out = []
    for k, v in files.items():
        out += [f"--{k}", v if os.path.isabs(v) else os.path.join(SURVIVES, v)]
    return out


# ---- the table, exit statuses, bad input ----

def check_table():
    rc, out, err = run(*LAB5, "--lose", "zone")
    lines = out.splitlines()
    report(rc == 1 and err == "" and lines[0] == "10 container instances (7 usable), 5 services, seed 1",
           "the table is the default: the cluster line first", repr(lines[:1]))
    report("not analysed: service:web (FARGATE: on no container instance)" in lines,
           "the table names the services it does not analyse, and why")
    report("LOSE zone us-east-1a: 4 container instances (i-00000001 c4.large, i-00000004 m4.large, "
           "i-00000006 t2.small, i-00000009 g2.2xlarge DRAINING), 1 standalone task lost" in lines,
           "a failure's heading lists its lost instances and standalone tasks")
    row = next((l for l in lines if l.lstrip().startswith("service:cats")), "")
    report(row.split() == ["service:cats", "2", "2", "0", "2", "MemberOf", "placement", "constraint",
                           "unsatisfied.", "(2)"], "a service row: desired, lost, placed, short, why", row)
    report(lines[-2] == "survives the loss of any one zone: no (3 of 3 not survived: us-east-1a, us-east-1b, "
                        "us-east-1d)" and lines[-1] == "survived: no",
           "the table ends with the verdicts", repr(lines[-3:]))
    report(any(re.fullmatch(r"  us-east-1b +5376 of 6144 \(87%\) +14838 of 19446 \(76%\)", l) for l in lines),
           "headroom per zone: CPU and memory left of registered, percentages rounded down")
    rc, out, _ = run(*survives_args(), "--lose", "zone", "--output", "table")
    report(rc == 0 and out.endswith("survives the loss of any one zone: yes\nsurvived: every failure\n"),
           "every loss survived: exit 0 and says so", out[-200:])


def check_bad_input():
    with tempfile.TemporaryDirectory() as d:
        bad = os.path.join(d, "services.json")
        with open(bad, "w") as f:
            f.write('{"services": [{"serviceName": "api", "desiredCount": "six"}]}')
        rc, out, err = run(*survives_args(services=bad))
        report(rc == 2 and out == "" and err == f"error: {bad}: services[0].desiredCount: expected an integer\n",
               "a wrong shape in the services file: exit 2, the field named", err)
        with open(bad, "w") as f:
            f.write('{"services": [')
        rc, out, err = run(*survives_args(services=bad))
        report(rc == 2 and out == "" and err.startswith(f"error: {bad}:1:") and "malformed JSON" in err,
               "malformed services JSON: exit 2, the position named", err)
        tds = os.path.join(d, "taskdefs")
        os.mkdir(tds)
        shutil.copy(os.path.join(SURVIVES, "taskdefs", "api.json"), tds)
        rc, out, err = run(*survives_args(**{"task-definitions": tds}))
        report(rc == 2 and out == "" and err == "error: service web: task definition "
               "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1 is not among the task definitions given\n",
               "a service whose task definition is missing: exit 2, named", err)
        empty = os.path.join(d, "empty")
        os.mkdir(empty)
        rc, out, err = run(*survives_args(**{"task-definitions": empty}))
        report(rc == 2 and err == f"error: {empty}: no *.json file (task definitions) in this directory\n",
               "an empty task definitions directory: exit 2", err)
    rc, out, err = run(*survives_args(services=os.path.join(SURVIVES, "tasks.json")))
    report(rc == 2 and "services: missing (expected the output of aws ecs describe-services)" in err,
           "the tasks file given as --services: says which output was expected", err)
    rc, out, err = run("--instances", os.path.join(SURVIVES, "instances.json"))
    report(rc == 2 and err.startswith("error: resilience needs --instances FILE, --services FILE"),
           "missing options: exit 2", err)


# ---- JSON: the documented shape ----

HEAD = {"cluster", "survived", "seed", "skippedServices", "baseline", "failures", "verdicts"}
FAILURE = {"lose", "name", "lostInstances", "standaloneTasksLost", "survived", "verdict", "services", "headroom"}
BASELINE = {"survived", "verdict", "services", "headroom"}
OUTCOME = {"serviceName", "group", "desiredCount", "tasksBefore", "displaced", "missing", "placed", "short",
           "reasons"}
PLACED = {"containerInstanceArn", "ec2InstanceId", "instanceType", "zone"}
RESOURCE = {"left", "registered", "fraction"}


def check_json():
    rc, out, _ = run(*LAB5, "--lose", "zone", "--lose", "pool", "--min-headroom", "0.8", "--output", "json")
    doc = json.loads(out)
    report(set(doc) == HEAD | {"minHeadroom"} and doc["minHeadroom"] == 0.8 and doc["seed"] == 1
           and doc["cluster"] == "arn:aws:ecs:us-east-1:123456789012:cluster/catsndogsECScluster",
           "json: the top level", sorted(doc))
    report(set(doc["baseline"]) == BASELINE | {"lowHeadroom"}, "json: the baseline", sorted(doc["baseline"]))
    kinds = {f["lose"] for f in doc["failures"]}
    report(kinds == {"zone", "pool"} and all(set(f) - {"zone", "instanceType", "lowHeadroom"} == FAILURE
                                             for f in doc["failures"]),
           "json: every failure has the documented keys", [sorted(f) for f in doc["failures"][:1]])
    pool = next(f for f in doc["failures"] if f["lose"] == "pool")
    report(pool["zone"] == "us-east-1a" and pool["instanceType"] == "c4.large" and pool["name"] == "c4.large in us-east-1a",
           "json: a pool names its zone and instance type", {k: pool.get(k) for k in ("name", "zone", "instanceType")})
    a = doc["failures"][0]
    report(set(a["lostInstances"][0]) == PLACED | {"status"} and a["lostInstances"][3]["status"] == "DRAINING",
           "json: lost instances with their status", a["lostInstances"][3])
    cats = next(s for s in a["services"] if s["group"] == "service:cats")
    report(set(cats) == OUTCOME | {"event"} and cats["short"] == 2 and cats["displaced"] == 2
           and cats["reasons"] == [{"reason": "MemberOf placement constraint unsatisfied.", "tasks": 2}]
           and cats["event"] == "service cats was unable to place a task because no container instance met all "
                                "of its requirements.",
           "json: a service short: reasons in ECS's words, and the event ECS would write", cats)
    dogs = next(s for s in a["services"] if s["group"] == "service:dogs")
    report(set(dogs) == OUTCOME and [set(p) for p in dogs["placed"]] == [PLACED]
           and dogs["placed"][0]["ec2InstanceId"] == "i-wxyx7890",
           "json: where a replacement went", dogs)
    h = a["headroom"]
    report(set(h) == {"cpu", "memory", "zones"} and set(h["cpu"]) == RESOURCE
           and h["memory"] == {"left": 29194, "registered": 38254, "fraction": 0.763}
           and [z["zone"] for z in h["zones"]] == ["us-east-1b", "us-east-1d"],
           "json: headroom in all and per zone left, the lost zone gone", h["memory"])
    report(a["lowHeadroom"] is True and a["survived"] is False and doc["survived"] is False
           and doc["baseline"]["lowHeadroom"] is True,
           "json: --min-headroom 0.8 marks the losses that leave less (76% of memory)")
    report(doc["skippedServices"] == [{"serviceName": "web", "reason": "FARGATE: on no container instance"}],
           "json: the Fargate service is skipped, with the reason")
    report(doc["verdicts"][0].startswith("survives the loss of any one zone: no (3 of 3")
           and doc["verdicts"][1].startswith("survives the loss of any one pool (instance type x zone): no"),
           "json: the verdicts, one per kind of loss", doc["verdicts"])
    rc2, out2, _ = run(*LAB5, "--lose", "zone", "--lose", "pool", "--min-headroom", "80%", "--output", "json")
    report(rc == 1 and rc2 == 1 and out2 == out, "json: the same run gives the same document; 80% is 0.8")


# ---- the picture ----

def png_pixels(path):
    """(width, height, rows of RGB bytes) of an 8-bit RGB or RGBA PNG."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, head = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            head = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, colour, _, _, interlace = head
    assert depth == 8 and colour in (2, 6) and interlace == 0, f"unexpected PNG format {head}"
    bpp = 3 if colour == 2 else 4
    raw, stride, rows, prev = zlib.decompress(idat), w * bpp, [], bytearray(w * bpp)
    for y in range(h):
        ftype, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 255
            elif ftype == 2:
                line[i] = (line[i] + b) & 255
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line) if bpp == 3 else bytes(v for k, v in enumerate(line) if k % 4 != 3))
        prev = line
    return w, h, rows


def render(svg_path, png_path, width, height):
    """Headless Chromium, as Debian ships it, with a fresh profile."""
    profile = tempfile.mkdtemp(prefix="ecs-place-chromium-")
    try:
        p = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
                            "--hide-scrollbars", f"--window-size={width},{height}", f"--screenshot={png_path}",
                            "file://" + svg_path], capture_output=True, text=True, timeout=120)
        return p.returncode, p.stderr
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def check_picture():
    rc, svg, err = run(*LAB5, *PICTURE_ARGS)
    report(rc == 1 and svg.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<svg '),
           "resilience --output svg: an SVG document, the exit status still the verdict's", err)
    m = re.search(r'<svg [^>]*width="(\d+)" height="(\d+)"', svg)
    width, height = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
    report(width == 1200 and 300 < height < 1500, "the picture is 1,200 px wide", (width, height))
    report("<script" not in svg and "href" not in svg and "url(" not in svg,
           "self-contained: no script, no external reference")
    report("ecs-place resilience: losing zone us-east-1a" in svg, "the title names the loss pictured")
    lost_boxes = re.findall(r'<title>[^<]*? (i-0000000[1469])\n', svg)
    report(svg.count(">LOST</text>") == 4 and sorted(lost_boxes) == ["i-00000001", "i-00000004", "i-00000006",
                                                                      "i-00000009"],
           "the four instances of us-east-1a are marked lost", lost_boxes)
    crosses = re.findall(r'<path d="M[\d.]+ [\d.]+L[\d.]+ [\d.]+M[\d.]+ [\d.]+L[\d.]+ [\d.]+" stroke="#c0392b"', svg)
    report(len(crosses) == 4, "lost instances are struck out (a red cross each)", len(crosses))
    report("<title>service:dogs (new)</title>" in svg and 'stroke="#111" stroke-width="2"' in svg,
           "the replacement (dogs, on i-wxyx7890) is outlined, and its tooltip says new")
    report(re.search(r"<title>t2\.medium i-abcd1234\n[^<]*\nrejected: AGENT[^<]*</title>", svg) is not None,
           "an instance that cannot take tasks is greyed, the reason in its <title>")
    report(all(w in svg for w in ("replacement task", "rejected (hover over a box for the reason)",
                                  "lost (struck out)", "task groups:")), "the legend explains every mark")
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "lab5.svg")
        with open(path, "w") as f:
            f.write(svg)
        x = subprocess.run(["xmllint", "--noout", path], capture_output=True, text=True)
        report(x.returncode == 0 and x.stderr == "", "xmllint: well-formed", x.stderr)
        png = os.path.join(d, "lab5.png")
        rc, err = render(path, png, width, height)
        if not report(rc == 0 and os.path.exists(png), "headless Chromium renders the SVG to a PNG", err[-500:]):
            return
        w, h, rows = png_pixels(png)
        report((w, h) == (width, height), "the PNG has the size the SVG declares", (w, h))
        pixels = [r[i:i + 3] for r in rows[::4] for i in range(0, len(r), 12)]
        white = sum(1 for p in pixels if p == b"\xff\xff\xff")
        colours = len(set(pixels))
        report(white < 0.9 * len(pixels) and colours > 20,
               "the PNG is not blank: drawn pixels and many colours", f"{white}/{len(pixels)} white, {colours} colours")
        # The lost zone's boxes are tinted red (#fdf0ef, drawn at half opacity
        # with the rest); the red of the strike-through lines must show.
        reds = sum(1 for p in pixels if p[0] > 150 and p[1] < 110 and p[2] < 110)
        report(reds > 50, "the browser draws the red of the lost instances", f"{reds} red pixels")


def place(*args):
    p = subprocess.run([EXE, *args], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def well_formed(svg):
    with tempfile.NamedTemporaryFile("w", suffix=".svg") as f:
        f.write(svg)
        f.flush()
        return subprocess.run(["xmllint", "--noout", f.name], capture_output=True).returncode == 0


def check_other_pictures():
    """filter, run and service draw the same picture, each with its own marks."""
    inst, tasks = os.path.join(FIX, "lab5-instances.json"), os.path.join(FIX, "lab5-tasks.json")
    rc, svg, _ = place("filter", "--instances", inst, "--output", "svg", "attribute:ecs.instance-type == c4.large")
    report(rc == 0 and well_formed(svg) and svg.count("rejected: not selected by the expression") == 6,
           "filter --output svg: the 6 shown instances the expression does not select are greyed, with why")
    rc, svg, _ = place("run", "--instances", inst, "--tasks", tasks, "--task-definition",
                       os.path.join(FIX, "taskdef-mxnet.json"), "--count", "2", "--seed", "1", "--output", "svg")
    report(rc == 0 and well_formed(svg) and svg.count("<title>family:mxnet (new)</title>") == 2
           and svg.count("rejected: MemberOf placement constraint unsatisfied.") == 3
           and svg.count("rejected: AGENT") == 2,
           "run --output svg: the placed tasks outlined, the memberOf and agent rejections greyed with ECS's reason")
    rc, svg, _ = place("service", "--instances", inst, "--tasks", tasks, "--task-definition",
                       os.path.join(FIX, "taskdef-cats.json"), "--service-name", "cats", "--desired-count", "3",
                       "--seed", "1", "--output", "svg")
    report(rc == 0 and well_formed(svg) and svg.count("<title>service:cats (new)</title>") == 1,
           "service --output svg: the one missing cats task outlined")
    # Hostile text from a file stays text: the document stays well-formed.
    with tempfile.TemporaryDirectory() as d:
        with open(inst) as f:
            doc = json.load(f)
        for a in doc["containerInstances"][0]["attributes"]:
            if a["name"] == "ecs.instance-type":  # drawn in the box and its tooltip
                a["value"] = "<b>&amp;\"'\u001b[31m\u00e9]]>"
        doc["containerInstances"][0]["ec2InstanceId"] = "i-</text><script>x</script>"
        hostile = os.path.join(d, "hostile.json")
        with open(hostile, "w") as f:
            json.dump(doc, f)
        rc, svg, _ = place("filter", "--instances", hostile, "--output", "svg", "agentConnected == true")
        report(rc == 0 and well_formed(svg) and "<script" not in svg and "\\x1b[31m" in svg,
               "values with markup and control bytes are escaped: still well-formed, no script")


def fifty_instances(d):
    """50 instances over 3 zones and 4 types, 3 services; one DRAINING, one
    disconnected.  Returns the resilience arguments."""
    types = {"m5.large": (2048, 7680), "m5.xlarge": (4096, 15360), "c5.large": (2048, 3584),
             "g4dn.xlarge": (4096, 15360)}
    fam = {"api": (256, 1024), "web": (256, 512), "worker": (512, 2048)}

    def res(cpu, mem):
        return [{"name": "CPU", "type": "INTEGER", "integerValue": cpu},
                {"name": "MEMORY", "type": "INTEGER", "integerValue": mem}]
    cis, tasks = [], []
    for n in range(50):
        t = list(types)[n % 4]
        cpu, mem = types[t]
        mine = [g for g in fam for _ in range((n * 7 + len(g)) % 3) if fam[g][1] * 2 < mem]
        arn = f"arn:aws:ecs:us-east-1:1:container-instance/fifty/ci{n:04d}"
        tasks += [{"containerInstanceArn": arn, "group": "service:" + g, "desiredStatus": "RUNNING"} for g in mine]
        cis.append({"containerInstanceArn": arn, "ec2InstanceId": f"i-0{n:016x}",
                    "status": "DRAINING" if n == 7 else "ACTIVE", "agentConnected": n != 11,
                    "remainingResources": res(cpu - sum(fam[g][0] for g in mine), mem - sum(fam[g][1] for g in mine)),
                    "registeredResources": res(cpu, mem),
                    "attributes": [{"name": "ecs.availability-zone", "value": "us-east-1" + "abc"[n % 3]},
                                   {"name": "ecs.instance-type", "value": t}]})
    services = [{"serviceName": g, "status": "ACTIVE", "launchType": "EC2",
                 "desiredCount": sum(1 for t in tasks if t["group"] == "service:" + g),
                 "taskDefinition": f"arn:aws:ecs:us-east-1:1:task-definition/{g}:1"} for g in fam]
    os.mkdir(os.path.join(d, "td"))
    for g, (c, m) in fam.items():
        with open(os.path.join(d, "td", g + ".json"), "w") as f:
            json.dump({"taskDefinition": {"taskDefinitionArn": f"arn:aws:ecs:us-east-1:1:task-definition/{g}:1",
                                          "family": g, "revision": 1,
                                          "containerDefinitions": [{"name": g, "cpu": c, "memory": m}]}}, f)
    for name, key, value in (("i.json", "containerInstances", cis), ("t.json", "tasks", tasks),
                             ("s.json", "services", services)):
        with open(os.path.join(d, name), "w") as f:
            json.dump({key: value}, f)
    return ["--instances", os.path.join(d, "i.json"), "--tasks", os.path.join(d, "t.json"),
            "--services", os.path.join(d, "s.json"), "--task-definitions", os.path.join(d, "td")]


def check_fifty():
    """Readable at 1,200 px for 50 instances: every box drawn, none too
    narrow for its type, id and bars, no text too small, one screen or so."""
    with tempfile.TemporaryDirectory() as d:
        rc, svg, err = run(*fifty_instances(d), "--lose", "zone", "--show", "us-east-1a", "--output", "svg")
        m = re.search(r'<svg [^>]*width="(\d+)" height="(\d+)"', svg)
        width, height = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
        report(rc == 0 and well_formed(svg) and width == 1200 and height <= 1400,
               "50 instances: one 1,200 px picture, at most 1,400 px high", (rc, width, height, err))
        report(svg.count("\ncontainer instance ") == 50, "50 instances: every instance has its box and tooltip",
               svg.count("\ncontainer instance "))
        boxes = [float(w) for w in re.findall(r'<rect x="[\d.]+" y="[\d.]+" width="([\d.]+)" height="[\d.]+" rx="5"', svg)]
        report(len(boxes) == 50 and min(boxes) >= 150, "50 instances: boxes at least 150 px wide",
               (len(boxes), min(boxes or [0])))
        sizes = [int(s) for s in re.findall(r'font-size="(\d+)"', svg)]
        report(sizes and min(sizes) >= 9, "50 instances: no text under 9 px", min(sizes or [0]))
        report(svg.count(">LOST</text>") == 17 and "DRAINING" in svg and "agent disconnected" in svg,
               "50 instances: zone a's 17 struck out, the DRAINING and disconnected ones say so")


def check_readme_picture():
    rc, svg, _ = run(*LAB5, *PICTURE_ARGS)
    try:
        with open(PICTURE) as f:
            checked_in = f.read()
    except OSError as e:
        checked_in = str(e)
    report(rc == 1 and checked_in == svg, "docs/lab5-resilience.svg is what ecs-place draws now (make pictures)")
    with open(os.path.join(TOP, "README.md")) as f:
        readme = f.read()
    report("(docs/lab5-resilience.svg)" in readme, "README.md shows the picture")
    # The lab 5 output README.md quotes is what ecs-place prints now.
    m = re.search(r"\n    \$ build/ecs-place resilience [^\n]*\n[^\n]*--lose zone\n(.*?)\n    \[\.\.\. ", readme, re.S)
    quoted = [l[4:] for l in m.group(1).split("\n")] if m else []
    rc, out, _ = run(*LAB5, "--lose", "zone")
    report(len(quoted) > 20 and out.startswith("\n".join(quoted).replace("\n    \n", "\n\n").rstrip() + "\n"),
           "README.md's lab 5 resilience output is what ecs-place prints", quoted[:2])


def main():
    check_table()
    check_bad_input()
    check_json()
    check_picture()
    check_other_pictures()
    check_fifty()
    check_readme_picture()
    return TAP.done()


if __name__ == "__main__":
    sys.exit(main())
