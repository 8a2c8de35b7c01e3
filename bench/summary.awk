# summary.awk - bench/run.sh's verdicts: each target of docs/benchmarks.md, the
# figure this run measured for it, and met / not met; a text bar chart of the
# headline groups; the per-bench tables with times and instruction counts side by
# side; and the data plus script for a gnuplot PNG of the same chart.
#
#   awk -f bench/summary.awk -v md=FILE -v chart_dir=DIR [-v quick=1] all.csv [instr.csv]
#
# Input: the CSV files the benches write (bench/harness.c): timed rows have
# median_ns, --instructions rows have instructions_per_op; both kinds may come in
# any files, in any order, and are joined by bench, group and case.
# Output: the targets table and the chart on stdout; the targets table and the full
# tables as markdown appended to `md`; chart data files and chart.gp in chart_dir.
#
# A target compares a subject case with one or more reference cases in every group
# of one bench whose name matches a pattern:
#   kind "ratio"   figure = subject / reference, met when every figure <= limit
#   kind "speedup" figure = reference / subject, met when every figure >= limit
# Both figures are computed the same way, from times (medians of interleaved
# repetitions) and from callgrind instruction counts; the verdict is by instructions
# where they were counted and mean something (not for system-call-bound cases),
# else by time, and the other figure's verdict is added when it differs.

function target(label, workload, bench, groups, subject, refs, kind, limit, judge_ir) {
    nt++
    t_label[nt] = label; t_workload[nt] = workload; t_bench[nt] = bench
    t_groups[nt] = groups; t_subject[nt] = subject; t_refs[nt] = refs
    t_kind[nt] = kind; t_limit[nt] = limit; t_judge_ir[nt] = judge_ir
}

function chart(bench, group, exclude) {
    nc++
    c_bench[nc] = bench; c_group[nc] = group; c_exclude[nc] = exclude
}

BEGIN {
    FS = "\n"  # rows are split by parse_csv
    # page: syscall-bound; callgrind counts user-space instructions only, so the
    # instruction ratio is shown but does not judge.
    target("page: zh_alloc+zh_free within 1.10x of mmap+munmap", "4K-1M pairs",
           "zheap-bench-page", "^(4 KiB|64 KiB|1 MiB)( touched)?$",
           "zh_alloc+zh_free(page)", "mmap+munmap", "ratio", 1.10, 0)
    target("fba: zh_fba_alloc_inline within 1.25x of a bump pointer", "untouched",
           "zheap-bench-fba", "^[0-9]+ B x 1024$", "zh_fba_alloc_inline",
           "bump pointer (register cursor)", "ratio", 1.25, 1)
    target("fba: zh_fba_alloc_inline within 1.25x of a bump pointer", "touched",
           "zheap-bench-fba", "^[0-9]+ B x 1024 touched$", "zh_fba_alloc_inline",
           "bump pointer (register cursor)", "ratio", 1.25, 1)
    target("fba: zh_fba_alloc_inline >= 10x faster than malloc+free", "untouched",
           "zheap-bench-fba", "^[0-9]+ B x 1024$", "zh_fba_alloc_inline",
           "malloc+free", "speedup", 10, 1)
    target("fba: zh_fba_alloc_inline >= 10x faster than malloc+free", "touched",
           "zheap-bench-fba", "^[0-9]+ B x 1024 touched$", "zh_fba_alloc_inline",
           "malloc+free", "speedup", 10, 1)
    target("arena: zh_arena_alloc_inline within 1.5x of a bump pointer", "untouched",
           "zheap-bench-arena", "^16-256 B x 4096$", "zh_arena_alloc_inline",
           "bump pointer (register cursor)", "ratio", 1.5, 1)
    target("arena: zh_arena_alloc_inline within 1.5x of a bump pointer", "touched",
           "zheap-bench-arena", "^16-256 B x 4096 touched$", "zh_arena_alloc_inline",
           "bump pointer (register cursor)", "ratio", 1.5, 1)
    target("arena: faster than glibc obstack (both chunk sizes)", "untouched",
           "zheap-bench-arena", "^16-256 B x 4096$", "zh_arena_alloc_inline",
           "glibc obstack (default chunks)|glibc obstack (one 1 MiB chunk)", "speedup", 1, 1)
    target("arena: faster than glibc obstack (both chunk sizes)", "touched",
           "zheap-bench-arena", "^16-256 B x 4096 touched$", "zh_arena_alloc_inline",
           "glibc obstack (default chunks)|glibc obstack (one 1 MiB chunk)", "speedup", 1, 1)
    target("arena: faster than a talloc pool", "untouched",
           "zheap-bench-arena", "^16-256 B x 4096$", "zh_arena_alloc_inline",
           "talloc pool", "speedup", 1, 1)
    target("arena: faster than a talloc pool", "touched",
           "zheap-bench-arena", "^16-256 B x 4096 touched$", "zh_arena_alloc_inline",
           "talloc pool", "speedup", 1, 1)
    target("pool: create+destroy >= 3x faster than malloc+free", "untouched",
           "zheap-bench-pool", "^[0-9]+ B (one at a time|batch of 1000)$",
           "zh_pool create+destroy (inline)", "glibc malloc+free", "speedup", 3, 1)
    target("pool: create+destroy >= 3x faster than malloc+free", "touched",
           "zheap-bench-pool", "^[0-9]+ B (one at a time|batch of 1000) touched$",
           "zh_pool create+destroy (inline)", "glibc malloc+free", "speedup", 3, 1)
    target("pool: the same through the exported calls", "untouched",
           "zheap-bench-pool", "^[0-9]+ B (one at a time|batch of 1000)$",
           "zh_pool create+destroy (call)", "glibc malloc+free", "speedup", 3, 1)
    target("pool: the same through the exported calls", "touched",
           "zheap-bench-pool", "^[0-9]+ B (one at a time|batch of 1000) touched$",
           "zh_pool create+destroy (call)", "glibc malloc+free", "speedup", 3, 1)
    # debug (issue 9): memory-bound (fills, scans, fresh cache lines): time judges.
    target("debug: default config (6 frames, libunwind) within 5x of malloc", "churn",
           "zheap-bench-debug", "^churn$", "debug, 6 frames (libunwind)",
           "glibc malloc", "ratio", 5, 0)
    target("debug: 0 frames within 2x of malloc", "churn",
           "zheap-bench-debug", "^churn$", "debug, 0 frames", "glibc malloc", "ratio", 2, 0)

    chart("zheap-bench-page", "4 KiB touched", "")
    chart("zheap-bench-c", "pair 64 B", "")
    chart("zheap-bench-fba", "64 B x 1024 touched", "")
    chart("zheap-bench-arena", "16-256 B x 4096 touched", "zh_arena_alloc_inline, FREE_ALL each round")
    chart("zheap-bench-pool", "64 B one at a time touched", "")
    chart("zheap-bench-pool", "64 B batch of 1000 touched", "")
}

# ---- reading ------------------------------------------------------------------

function parse_csv(line, f,    n, i, c, field, quoted) {
    n = 0; field = ""; quoted = 0
    for (i = 1; i <= length(line); i++) {
        c = substr(line, i, 1)
        if (quoted) {
            if (c == "\"" && substr(line, i + 1, 1) == "\"") { field = field c; i++ }
            else if (c == "\"") quoted = 0
            else field = field c
        } else if (c == "\"") quoted = 1
        else if (c == ",") { f[++n] = field; field = "" }
        else field = field c
    }
    f[++n] = field
    return n
}

# Remembers benches, groups and cases in the order they first appear.
function remember(bench, group, name,    gk) {
    if (!(bench in seen_bench)) { seen_bench[bench] = 1; bench_list[++nb] = bench }
    gk = bench SUBSEP group
    if (!(gk in seen_group)) {
        seen_group[gk] = 1
        group_count[bench]++
        group_list[bench, group_count[bench]] = group
    }
    if (!((gk, name) in seen_case)) {
        seen_case[gk, name] = 1
        case_count[gk]++
        case_list[gk, case_count[gk]] = name
    }
}

/^bench,group,case,/ { next }
{
    sub(/\r$/, "")
    if (parse_csv($0, f) < 9) next
    remember(f[1], f[2], f[3])
    k = f[1] SUBSEP f[2] SUBSEP f[3]
    if (f[4] != "") {
        ns[k] = f[4] + 0; ns_min[k] = f[5] + 0; ns_max[k] = f[6] + 0; ns_ratio[k] = f[7] + 0
        have_ns = 1
    }
    if (f[10] != "") { ir[k] = f[10] + 0; ir_ratio[k] = f[11] + 0; have_ir = 1 }
}

# ---- evaluating a target --------------------------------------------------------

function fmt_ratio(x) {
    if (x >= 100) return sprintf("%.0f", x)
    if (x >= 10) return sprintf("%.1f", x)
    return sprintf("%.2f", x)
}

function fmt_range(lo, hi) {
    if (fmt_ratio(lo) == fmt_ratio(hi)) return fmt_ratio(lo) "x"
    return fmt_ratio(lo) "-" fmt_ratio(hi) "x"
}

# Evaluates target t over the values in `v` (ns or ir); sets r_lo, r_hi, r_n
# (figures computed) and r_met (how many met the limit).
function evaluate(t, v,    b, g, group, nrefs, refs, j, s, r, x) {
    r_n = 0; r_met = 0; r_lo = 0; r_hi = 0
    b = t_bench[t]
    nrefs = split(t_refs[t], refs, "|")
    for (g = 1; g <= group_count[b]; g++) {
        group = group_list[b, g]
        if (group !~ t_groups[t]) continue
        if (!((b SUBSEP group SUBSEP t_subject[t]) in v)) continue
        s = v[b, group, t_subject[t]]
        for (j = 1; j <= nrefs; j++) {
            if (!((b SUBSEP group SUBSEP refs[j]) in v)) continue
            r = v[b, group, refs[j]]
            if (s <= 0 || r <= 0) continue
            x = t_kind[t] == "ratio" ? s / r : r / s
            if (r_n == 0 || x < r_lo) r_lo = x
            if (r_n == 0 || x > r_hi) r_hi = x
            r_n++
            if (t_kind[t] == "ratio" ? x <= t_limit[t] : x >= t_limit[t]) r_met++
        }
    }
}

function verdict_of(n, met) {
    if (n == 0) return "not measured"
    if (met == n) return "met"
    if (met == 0) return "not met"
    return "partly met (" met " of " n ")"
}

# The verdict: by instructions where they were counted and judge (they do not move
# with the load on the machine), else by time; the other figure's verdict is added
# when it differs.
function evaluate_all(    t, time_verdict, ir_verdict, ir_n) {
    for (t = 1; t <= nt; t++) {
        evaluate(t, ns)
        time_fig[t] = r_n ? fmt_range(r_lo, r_hi) : "-"
        time_verdict = verdict_of(r_n, r_met)
        evaluate(t, ir)
        ir_n = r_n
        ir_fig[t] = r_n ? fmt_range(r_lo, r_hi) : "-"
        if (r_n && !t_judge_ir[t]) ir_fig[t] = ir_fig[t] "*"
        ir_verdict = verdict_of(r_n, r_met)
        if (ir_n && t_judge_ir[t]) {
            verdict[t] = ir_verdict
            if (time_verdict != "not measured" && time_verdict != ir_verdict)
                verdict[t] = verdict[t] "; time: " time_verdict
        } else {
            verdict[t] = time_verdict
        }
    }
}

# ---- output ---------------------------------------------------------------------

function print_targets_text(    t, goal) {
    printf "\n== targets (docs/benchmarks.md): the figure measured in this run\n"
    if (quick) printf "   --quick: 3 short repetitions; a smoke run, not a measurement\n"
    printf "%-52s %-11s %-13s %-13s %s\n", "target", "workload", "time", "Ir", "verdict"
    for (t = 1; t <= nt; t++)
        printf "%-52s %-11s %-13s %-13s %s\n", t_label[t], t_workload[t], time_fig[t],
               ir_fig[t], verdict[t]
    printf "(time: ratio of interleaved medians; Ir: callgrind instructions per op%s;\n",
           have_ir ? "" : ", bench/run.sh --instructions"
    printf " verdict by Ir where counted, else by time, the other added when it differs;\n"
    printf " * user-space instructions only, the system calls are not counted: verdict by time)\n"
}

function print_targets_md(    t) {
    print "## Targets" >> md
    print "" >> md
    if (quick) { print "--quick: a smoke run, not a measurement." >> md; print "" >> md }
    print "| target | workload | measured (time) | measured (Ir) | verdict |" >> md
    print "|---|---|---:|---:|---|" >> md
    for (t = 1; t <= nt; t++)
        printf "| %s | %s | %s | %s | %s |\n", t_label[t], t_workload[t], time_fig[t],
               ir_fig[t], verdict[t] >> md
    print "" >> md
    print "Time: ratio of the medians of interleaved repetitions in each group (range over" >> md
    print "groups); Ir: the same ratio of callgrind instructions per op (`--instructions`)." >> md
    print "The verdict is by Ir where it was counted, else by time; the other figure's" >> md
    print "verdict is added when it differs. \\* user-space instructions only (the system" >> md
    print "calls are not counted): the verdict there is by time." >> md
    print "" >> md
}

function bar(n, ch,    s) {
    s = ""
    while (n-- > 0) s = s ch
    return s
}

function is_zheap(name) { return name ~ /zh_|vtable/ }

# ns with 3 significant digits, without exponents: 0.912, 35.1, 16804.
function fmt_ns(x) {
    if (x >= 100) return sprintf("%.0f", x)
    return sprintf("%.3g", x)
}

# Cases of chart c that are drawn: all but the excluded one, with a time.
function chart_cases(c, names,    gk, i, n, name) {
    gk = c_bench[c] SUBSEP c_group[c]
    n = 0
    for (i = 1; i <= case_count[gk]; i++) {
        name = case_list[gk, i]
        if (name == c_exclude[c] || !((gk SUBSEP name) in ns)) continue
        names[++n] = name
    }
    return n
}

function print_chart_text(    c, n, names, i, max, k, width, extra) {
    printf "\n== chart: ns per op (lower is better); \342\226\210 zheap, \342\226\221 the others\n"
    for (c = 1; c <= nc; c++) {
        n = chart_cases(c, names)
        if (n == 0) continue
        max = 0
        for (i = 1; i <= n; i++) if (ns[c_bench[c], c_group[c], names[i]] > max) max = ns[c_bench[c], c_group[c], names[i]]
        printf "%s: %s\n", c_bench[c], c_group[c]
        for (i = 1; i <= n; i++) {
            k = c_bench[c] SUBSEP c_group[c] SUBSEP names[i]
            width = int(40 * ns[k] / max + 0.5)
            if (width < 1) width = 1
            extra = (k in ir) ? sprintf("  (%.0f Ir)", ir[k]) : ""
            printf "  %-38s %s %s%s\n", names[i],
                   bar(width, is_zheap(names[i]) ? "\342\226\210" : "\342\226\221"), fmt_ns(ns[k]),
                   extra
        }
    }
}

# chart<N>.dat: index, ns, colour, "label"; chart.gp draws them all on one page.
function write_chart_files(    c, n, names, i, k, dat, gp, panels) {
    if (chart_dir == "") return
    gp = chart_dir "/chart.gp"
    panels = 0
    for (c = 1; c <= nc; c++) if (chart_cases(c, names) > 0) panels++
    if (panels == 0) return
    print "set terminal pngcairo noenhanced size 1400," (300 * int((panels + 1) / 2) + 80) \
          " font 'sans,10'" > gp
    print "set output '" chart_dir "/chart.png'" > gp
    gsub(/'/, "", title)  # it goes between single quotes
    print "set multiplot layout " int((panels + 1) / 2) ",2 title '" title "'" > gp
    print "set style fill solid 0.85 border -1" > gp
    print "unset key; set grid xtics; set xlabel 'ns per op (lower is better)'" > gp
    print "set xrange [0:*]; set offsets 0, graph 0.12, 0, 0" > gp
    for (c = 1; c <= nc; c++) {
        n = chart_cases(c, names)
        if (n == 0) continue
        dat = chart_dir "/chart" c ".dat"
        printf "" > dat
        for (i = 1; i <= n; i++) {
            k = c_bench[c] SUBSEP c_group[c] SUBSEP names[i]
            printf "%d %g %d \"%s\"\n", i - 1, ns[k], is_zheap(names[i]) ? 2849722 : 11184810,
                   names[i] > dat
        }
        close(dat)
        printf "set title '%s: %s'\n", c_bench[c], c_group[c] > gp
        printf "set yrange [%g:%g]\n", n - 0.4, -0.6 > gp  # the first case on top
        printf "plot '%s' using 2:1:(0):2:($1-0.38):($1+0.38):3:ytic(4) with boxxyerror lc rgb variable, \\\n", dat > gp
        printf "     '' using 2:1:($2 >= 100 ? sprintf(' %%.0f', $2) : sprintf(' %%.3g', $2)) with labels left\n" > gp
    }
    print "unset multiplot" > gp
    close(gp)
}

function print_tables_md(    b, bench, g, group, gk, i, name, k, first, timefig, irfig) {
    for (b = 1; b <= nb; b++) {
        bench = bench_list[b]
        print "### " bench >> md
        print "" >> md
        print "| group | case | median ns/op | min..max | ratio | Ir/op | Ir ratio |" >> md
        print "|---|---|---:|---:|---:|---:|---:|" >> md
        for (g = 1; g <= group_count[bench]; g++) {
            group = group_list[bench, g]
            gk = bench SUBSEP group
            for (i = 1; i <= case_count[gk]; i++) {
                name = case_list[gk, i]
                k = gk SUBSEP name
                first = i == 1
                timefig = "- | - | -"
                if (k in ns)
                    timefig = fmt_ns(ns[k]) " | " fmt_ns(ns_min[k]) ".." fmt_ns(ns_max[k]) " | " \
                              sprintf("%.2fx", ns_ratio[k])
                irfig = (k in ir) ? sprintf("%.1f | %.2fx", ir[k], ir_ratio[k]) : "- | -"
                printf "| %s | %s%s | %s | %s |\n", first ? group : "", name,
                       first ? " (baseline)" : "", timefig, irfig >> md
            }
        }
        print "" >> md
    }
}

END {
    evaluate_all()
    print_targets_text()
    print_chart_text()
    write_chart_files()
    if (md != "") {
        print_targets_md()
        print "## Results" >> md
        print "" >> md
        print_tables_md()
    }
}
