"""querymodel.py: a Query-protocol request (its form fields) checked against
botocore's service model, the way AWS's front end checks it before an action
runs, and what is wrong worded as AWS words it:

    1 validation error detected: Value 'a b' at 'lifecycleHookName' failed to
    satisfy constraint: Member must satisfy regular expression pattern: [A-Za-z0-9\\-_\\/]+

Required members, string length (in UTF-16 units, as AWS's Java counts),
patterns, enums, integer ranges, booleans; nested structures (`Name.Sub`)
and lists (`Name.member.N`) as the Query protocol flattens them.  A field
that is no member of the input is an error too (stricter than AWS, which
ignores it: here it is a client bug worth seeing).  botocore is the only
dependency beyond the standard library; the proxy imports this module only
when it answers an action itself.
"""

import functools
import re

import botocore.loaders

COMMON = {"Action", "Version"}  # the protocol's own fields


@functools.lru_cache(maxsize=None)
def service_model(service, version=None):
    """botocore's service-2.json for `service` (the newest API version unless given)."""
    return botocore.loaders.create_loader().load_service_model(service, "service-2", version)


@functools.lru_cache(maxsize=None)
def _pattern(java):
    # Java regexes work on UTF-16: a surrogate pair range stands for every
    # character beyond U+FFFF, which Python's re writes directly.
    py = java.replace("\\uD800\\uDC00-\\uDBFF\\uDFFF", "\\U00010000-\\U0010FFFF")
    return re.compile(py)


def _utf16_len(s):
    return sum(2 if ord(c) > 0xFFFF else 1 for c in s)


def _lower_camel(name):
    return name[:1].lower() + name[1:]


class QueryModel:
    """Checks requests of one service against its model."""

    def __init__(self, service, version=None):
        self.model = service_model(service, version)
        self.shapes = self.model["shapes"]

    def operation(self, action):
        return self.model["operations"].get(action)

    def validate(self, action, params):
        """The problems of `params` (field name -> value, as sent) for
        `action`: a list of AWS-worded problems, [] when it is valid.  An
        unknown action is one problem."""
        op = self.operation(action)
        if op is None:
            return ["%s is not an action of %s" % (action, self.model["metadata"]["serviceId"])]
        fields = {k: v for k, v in params.items() if k not in COMMON}
        problems, used = [], set()
        if "input" in op:
            self._structure(self.shapes[op["input"]["shape"]], "", "", fields, problems, used)
        for k in sorted(set(fields) - used):
            problems.append("Value '%s' at '%s' failed to satisfy constraint: Member is not a member of "
                            "the input" % (fields[k], k))
        return problems

    @staticmethod
    def message(problems):
        """AWS's ValidationError message for problems (validate()'s result)."""
        n = len(problems)
        return "%d validation error%s detected: %s" % (n, "" if n == 1 else "s", "; ".join(problems))

    def _present(self, prefix, fields):
        return any(k == prefix or k.startswith(prefix + ".") for k in fields)

    def _structure(self, shape, prefix, path, fields, problems, used):
        required = set(shape.get("required", []))
        for name, ref in shape.get("members", {}).items():
            key = prefix + name
            where = (path + "." if path else "") + _lower_camel(name)
            member = self.shapes[ref["shape"]]
            if not self._present(key, fields):
                if name in required:
                    problems.append("Value null at '%s' failed to satisfy constraint: Member must not be null"
                                    % where)
                continue
            self._value(member, key, where, fields, problems, used)

    def _value(self, shape, key, where, fields, problems, used):
        kind = shape["type"]
        if kind == "structure":
            self._structure(shape, key + ".", where, fields, problems, used)
        elif kind == "list":
            self._list(shape, key, where, fields, problems, used)
        elif key in fields:
            used.add(key)
            self._scalar(shape, fields[key], where, problems)

    def _list(self, shape, key, where, fields, problems, used):
        items = sorted({int(m.group(1)) for k in fields for m in [re.match(re.escape(key) + r"\.member\.(\d+)(\.|$)", k)] if m})
        if key in fields:  # "Name=" alone is the empty list
            used.add(key)
        member = self.shapes[shape["member"]["shape"]]
        for i in items:
            self._value(member, "%s.member.%d" % (key, i), "%s.%d.member" % (where, i), fields, problems, used)
        self._bounds(len(items), shape, where, problems, "length")

    def _scalar(self, shape, value, where, problems):
        kind = shape["type"]
        shown = "Value '%s' at '%s' failed to satisfy constraint: " % (value, where)
        if kind == "string":
            if "enum" in shape and value not in shape["enum"]:
                problems.append(shown + "Member must satisfy enum value set: [%s]" % ", ".join(shape["enum"]))
                return
            if "pattern" in shape and not _pattern(shape["pattern"]).fullmatch(value):
                problems.append(shown + "Member must satisfy regular expression pattern: %s" % shape["pattern"])
            self._bounds(_utf16_len(value), shape, where, problems, "length", value)
        elif kind in ("integer", "long"):
            if not re.fullmatch(r"-?\d+", value):
                problems.append(shown + "Member must be a number")
                return
            self._bounds(int(value), shape, where, problems, "value", value)
        elif kind == "boolean" and value not in ("true", "false"):
            problems.append(shown + "Member must be true or false")
        elif kind == "double" or kind == "float":
            try:
                float(value)
            except ValueError:
                problems.append(shown + "Member must be a number")

    @staticmethod
    def _bounds(n, shape, where, problems, what, value=None):
        shown = "Value %s at '%s' failed to satisfy constraint: " % ("'%s'" % value if value is not None else "[...]", where)
        if "min" in shape and n < shape["min"]:
            problems.append(shown + "Member must have %s greater than or equal to %d" % (what, shape["min"]))
        if "max" in shape and n > shape["max"]:
            problems.append(shown + "Member must have %s less than or equal to %d" % (what, shape["max"]))
