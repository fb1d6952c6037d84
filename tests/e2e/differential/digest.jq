# One line per violation event: "RULE TARGET". The target is what the rule
# is about, canonical: the file's path (of a rename or link: the name the
# refused right was needed for, the new one when only access2 lacks it), the
# program executed, the peer
# (family:address:port, or the unix socket's name), the syscall's name, or
# the process permission. Summaries of repeats add nothing: their first
# occurrence has its own line.
select(.verdict == "violation" and .type != "violation_summary")
| .rule + " " + (
    if .type == "file" then
      (if (.file.denied_access // []) - (.file.access // []) != [] and .file.access2 != null
       then (.file.path2 // .file.raw_path2) else .file.path end)
    elif .type == "network" then
      (if .net.family == "unix" then .net.path
       else "\(.net.family):\(.net.daddr // .net.addr):\(.net.dport // .net.port)" end)
    elif (.rule | startswith("process.")) then (.rule | ltrimstr("process."))
    else .syscall.name end)
