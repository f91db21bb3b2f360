/* placement-picture.c: draws a placement_picture as SVG.  The layout is
 * computed first (columns by zone, a grid of equal boxes in each, as many
 * task rows as the busiest instance needs, up to BLOCK_ROWS), then written
 * in one pass.  Text widths are estimated from the font size (DejaVu Sans,
 * the font Debian's Chromium falls back to, averages 0.6 em): labels are
 * cut, with an ellipsis, to the width they have, so nothing overlaps. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "placement-escape.h"
#include "placement-picture.h"

#define streq(a, b) (strcmp((a), (b)) == 0)

#define WIDTH 1200.0        /* px: the picture's width */
#define MARGIN 16.0         /* px around everything */
#define GAP 10.0            /* px between columns and between boxes */
#define BOX_MIN_WIDTH 176.0 /* px: narrower boxes could not hold a type and an id */
#define BLOCK 10.0          /* px: one task */
#define BLOCK_STEP 13.0     /* px from one task to the next */
#define BLOCK_ROWS 3        /* rows of tasks a box shows; more are "+N" */
#define EM 0.6              /* average character width in em (DejaVu Sans) */
#define LEGEND_GROUPS 40    /* groups the legend names; more are "+N more" */
#define FONT "font-family=\"DejaVu Sans, Verdana, Arial, sans-serif\""

/* Tableau 10 and two more: distinct for most readers, colour-blind included. */
static const char *const palette[] = {
        "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
        "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#86bcb6", "#d4a6c8",
};

int placement_picture_new(struct placement_picture **ret, const struct placement_cluster *c) {
        struct placement_picture *p = calloc(1, sizeof(*p));

        if (!p)
                return -ENOMEM;
        p->c = c;
        p->instances = calloc(c->n_instances + 1, sizeof(*p->instances));
        if (!p->instances) {
                free(p);
                return -ENOMEM;
        }
        for (size_t i = 0; i < c->n_instances; i++)
                if (streq(c->instances[i].status, "INACTIVE"))
                        p->instances[i].state = PLACEMENT_PICTURE_HIDDEN;
        *ret = p;
        return 0;
}

struct placement_picture *placement_picture_free(struct placement_picture *p) {
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->c->n_instances; i++) {
                for (size_t k = 0; k < p->instances[i].n_added; k++)
                        free(p->instances[i].added[k].group);
                free(p->instances[i].added);
        }
        free(p->instances);
        free(p->title);
        for (size_t k = 0; k < p->n_notes; k++)
                free(p->notes[k]);
        free(p->notes);
        free(p);
        return NULL;
}

int placement_picture_line(struct placement_picture *p, const char *text) {
        char **grown, *s = strdup(text);

        if (!s)
                return -ENOMEM;
        if (!p->title) {
                p->title = s;
                return 0;
        }
        grown = realloc(p->notes, (p->n_notes + 1) * sizeof(*grown));
        if (!grown) {
                free(s);
                return -ENOMEM;
        }
        p->notes = grown;
        p->notes[p->n_notes++] = s;
        return 0;
}

int placement_picture_add_task(struct placement_picture *p, size_t i, const char *group) {
        struct placement_picture_instance *pi = &p->instances[i];
        struct placement_group_count *grown;

        for (size_t k = 0; k < pi->n_added; k++)
                if (streq(pi->added[k].group, group)) {
                        pi->added[k].count++;
                        return 0;
                }
        grown = realloc(pi->added, (pi->n_added + 1) * sizeof(*grown));
        if (!grown)
                return -ENOMEM;
        pi->added = grown;
        grown[pi->n_added].group = strdup(group);
        if (!grown[pi->n_added].group)
                return -ENOMEM;
        grown[pi->n_added++].count = 1;
        return 0;
}

/* ---- text ---- */

/* Write s as SVG text: escaped for the terminal's rules first (so no
 * control character, which XML forbids even as a reference, gets through),
 * then &, <, >, quotes as entities; U+FFFE and U+FFFF, which XML forbids
 * too, as \xNN.  At most max characters, the last an ellipsis when cut. */
static void put_text(FILE *f, const char *s, size_t max) {
        size_t n = strlen(s), shown = 0;

        for (size_t i = 0; i < n;) {
                size_t keep = placement_escape_keep(s + i, n - i, true);
                const unsigned char *u = (const unsigned char *)s + i;
                bool forbidden = keep == 3 && u[0] == 0xEF && u[1] == 0xBF && u[2] >= 0xBE;
                size_t width = keep == 0 || forbidden ? 4 * (keep ? keep : 1) : 1;

                if (shown + width > max || (shown + width == max && i + (keep ? keep : 1) < n)) {
                        fputs("\u2026", f);
                        return;
                }
                shown += width;
                if (keep == 0 || forbidden) {
                        for (size_t k = 0; k < (keep ? keep : 1); k++)
                                fprintf(f, "\\x%02x", u[k]);
                        i += keep ? keep : 1;
                        continue;
                }
                switch (s[i]) {
                case '&':
                        fputs("&amp;", f);
                        break;
                case '<':
                        fputs("&lt;", f);
                        break;
                case '>':
                        fputs("&gt;", f);
                        break;
                case '"':
                        fputs("&quot;", f);
                        break;
                case '\'':
                        fputs("&apos;", f);
                        break;
                default:
                        fwrite(s + i, 1, keep, f);
                }
                i += keep;
        }
}

/* How many characters of font px fit in width px. */
static size_t chars_in(double width, double font) {
        return width > 0 ? (size_t)(width / (font * EM)) : 0;
}

/* <text> at x, y of font px, style attrs (class, weight, anchor), cut to width. */
static void text_at(FILE *f, double x, double y, double font, const char *attrs, const char *s,
                    double width) {
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.0f\"%s%s>", x, y, font,
                attrs ? " " : "", attrs ? attrs : "");
        put_text(f, s, chars_in(width, font));
        fputs("</text>\n", f);
}

/* ---- layout ---- */

struct layout {
        const char **zones; /* column names, sorted; "(no zone)" last when needed */
        size_t n_zones;
        size_t *column;      /* per instance: its column; SIZE_MAX when hidden */
        size_t *slot;        /* per instance: its place in the column */
        size_t *count;       /* per column: its instances */
        const char **groups; /* every task group drawn, sorted: colour = index */
        size_t n_groups;
        double column_width, box_width, box_height, header, top, legend_top, height;
        size_t per_row, blocks_per_row, block_rows;
};

static void layout_done(struct layout *l) {
        free(l->zones);
        free(l->column);
        free(l->slot);
        free(l->count);
        free(l->groups);
}

static const char *zone_of(const struct placement_instance *ci) {
        const struct placement_attribute *a =
                placement_instance_attribute(ci, "ecs.availability-zone");

        return a && a->value ? a->value : NULL;
}

static int compare_strings(const void *a, const void *b) {
        return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sort v[0..*n) and keep each string once. */
static void sort_unique(const char **v, size_t *n) {
        size_t m = 0;

        qsort(v, *n, sizeof(*v), compare_strings);
        for (size_t i = 0; i < *n; i++)
                if (m == 0 || !streq(v[m - 1], v[i]))
                        v[m++] = v[i];
        *n = m;
}

static const char *const NO_ZONE = "(no zone)";

/* The columns: one per zone, sorted, and one for instances without a zone. */
static int layout_columns(struct layout *l, const struct placement_picture *p) {
        const struct placement_cluster *c = p->c;
        bool zoneless = false;

        l->zones = calloc(c->n_instances + 2, sizeof(*l->zones));
        l->column = calloc(c->n_instances + 1, sizeof(*l->column));
        l->slot = calloc(c->n_instances + 1, sizeof(*l->slot));
        l->count = calloc(c->n_instances + 2, sizeof(*l->count));
        if (!l->zones || !l->column || !l->slot || !l->count)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_instances; i++) {
                const char *z = zone_of(&c->instances[i]);
                if (p->instances[i].state == PLACEMENT_PICTURE_HIDDEN)
                        continue;
                if (z)
                        l->zones[l->n_zones++] = z;
                else
                        zoneless = true;
        }
        sort_unique(l->zones, &l->n_zones);
        if (zoneless)
                l->zones[l->n_zones++] = NO_ZONE;
        for (size_t i = 0; i < c->n_instances; i++) {
                const char *z = zone_of(&c->instances[i]);
                const char **at = z ? bsearch(&z, l->zones, l->n_zones - zoneless,
                                              sizeof(*l->zones), compare_strings)
                                    : NULL;
                if (p->instances[i].state == PLACEMENT_PICTURE_HIDDEN) {
                        l->column[i] = SIZE_MAX;
                        continue;
                }
                l->column[i] = at ? (size_t)(at - l->zones) : l->n_zones - 1;
                l->slot[i] = l->count[l->column[i]]++;
        }
        return 0;
}

/* Tasks drawn on instance i: its groups' counts, which include the new ones. */
static size_t tasks_on(const struct placement_picture *p, size_t i) {
        const struct placement_instance *ci = &p->c->instances[i];
        size_t n = 0;

        for (size_t k = 0; k < ci->n_groups; k++)
                n += ci->groups[k].count;
        return n;
}

static int layout_groups(struct layout *l, const struct placement_picture *p) {
        const struct placement_cluster *c = p->c;
        size_t n = 0;

        for (size_t i = 0; i < c->n_instances; i++)
                n += c->instances[i].n_groups;
        l->groups = calloc(n + 1, sizeof(*l->groups));
        if (!l->groups)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_instances; i++)
                for (size_t k = 0; l->column[i] != SIZE_MAX && k < c->instances[i].n_groups; k++)
                        l->groups[l->n_groups++] = c->instances[i].groups[k].group;
        sort_unique(l->groups, &l->n_groups);
        return 0;
}

/* Lines a note of n characters takes at chars per line. */
static size_t wrapped_lines(const char *s, size_t chars) {
        size_t n = strlen(s);

        return chars ? (n + chars - 1) / chars + (n == 0) : 1;
}

static int layout(struct layout *l, const struct placement_picture *p) {
        size_t rows = 0, busiest = 0, note_lines = 0;
        int k;

        *l = (struct layout){};
        if ((k = layout_columns(l, p)) < 0 || (k = layout_groups(l, p)) < 0)
                return k;
        l->column_width = l->n_zones ? (WIDTH - 2 * MARGIN - GAP * (double)(l->n_zones - 1)) /
                                               (double)l->n_zones
                                     : WIDTH - 2 * MARGIN;
        l->per_row = (size_t)fmax(1, floor((l->column_width + GAP) / (BOX_MIN_WIDTH + GAP)));
        l->box_width = (l->column_width - GAP * (double)(l->per_row - 1)) / (double)l->per_row;
        l->blocks_per_row =
                (size_t)fmax(1, floor((l->box_width - 16 + BLOCK_STEP - BLOCK) / BLOCK_STEP));
        for (size_t i = 0; i < p->c->n_instances; i++)
                if (l->column[i] != SIZE_MAX && tasks_on(p, i) > busiest)
                        busiest = tasks_on(p, i);
        l->block_rows = (size_t)fmin(BLOCK_ROWS,
                                     fmax(1, ceil((double)busiest / (double)l->blocks_per_row)));
        l->box_height = 74 + BLOCK_STEP * (double)l->block_rows + 18;
        for (size_t k2 = 0; k2 < p->n_notes; k2++)
                note_lines += wrapped_lines(p->notes[k2], chars_in(WIDTH - 2 * MARGIN, 12));
        l->header = MARGIN + 22 + 17 * (double)note_lines + 10;
        l->top = l->header + 40;
        for (size_t z = 0; z < l->n_zones; z++)
                rows = (size_t)fmax((double)rows, ceil((double)l->count[z] / (double)l->per_row));
        l->legend_top = l->top + (double)rows * (l->box_height + GAP) + 10;
        return 0;
}

/* ---- drawing ---- */

static const char *colour_of(const struct layout *l, const char *group) {
        const char **at =
                bsearch(&group, l->groups, l->n_groups, sizeof(*l->groups), compare_strings);

        return palette[(at ? (size_t)(at - l->groups) : 0) % ELEMENTSOF(palette)];
}

static const char *label_of(const struct placement_instance *ci) {
        return ci->ec2_instance_id ? ci->ec2_instance_id : placement_instance_short_id(ci);
}

static const char *type_of(const struct placement_instance *ci) {
        const struct placement_attribute *a = placement_instance_attribute(ci, "ecs.instance-type");

        return a && a->value ? a->value : "(no type)";
}

/* The tooltip of an instance: everything the box abbreviates. */
static void tooltip(FILE *f, const struct placement_instance *ci,
                    const struct placement_picture_instance *pi) {
        const size_t all = SIZE_MAX / 8;

        fputs("<title>", f);
        put_text(f, type_of(ci), all);
        fputc(' ', f);
        put_text(f, label_of(ci), all);
        fputs("\ncontainer instance ", f);
        put_text(f, placement_instance_short_id(ci), all);
        fputs("\nstatus ", f);
        put_text(f, ci->status, all);
        fprintf(f, ", agent %s", ci->agent_connected ? "connected" : "disconnected");
        fprintf(f, "\nCPU left %lld of %lld units, memory left %lld of %lld MiB",
                (long long)ci->remaining.cpu, (long long)ci->registered.cpu,
                (long long)ci->remaining.memory, (long long)ci->registered.memory);
        for (size_t k = 0; k < ci->n_groups; k++) {
                fputs(k ? ", " : "\ntasks: ", f);
                put_text(f, ci->groups[k].group, all);
                fprintf(f, " (%u)", ci->groups[k].count);
        }
        if (pi->note) {
                fputs(pi->state == PLACEMENT_PICTURE_REJECTED ? "\nrejected: " : "\n", f);
                put_text(f, pi->note, all);
        }
        fputs("</title>\n", f);
}

/* One resource bar: the part used dark, the part left light, and what is
 * left in words on the right. */
static void draw_bar(FILE *f, double x, double y, double w, const char *label, int64_t left,
                     int64_t registered, double unit, const char *unit_name) {
        double bar = w - 38 - 8 - 78, used;
        char words[48];

        text_at(f, x + 8, y + 9, 10, "fill=\"#555\"", label, 30);
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"10\" fill=\"#dfe5ea\"/>\n",
                x + 38, y, bar);
        if (registered > 0 && left >= 0) {
                used = fmin(1, fmax(0, (double)(registered - left) / (double)registered));
                fprintf(f,
                        "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"10\" "
                        "fill=\"#5b6f82\"/>\n",
                        x + 38, y, bar * used);
                snprintf(words, sizeof(words), "%.1f %s left", (double)left / unit, unit_name);
        } else
                snprintf(words, sizeof(words), "%s", left >= 0 ? "?" : "not reported");
        text_at(f, x + w - 8, y + 9, 10, "text-anchor=\"end\" fill=\"#333\"", words, 78);
}

/* Task blocks: the new ones first (outlined), then the others, by group. */
static void draw_blocks(FILE *f, const struct layout *l, const struct placement_instance *ci,
                        const struct placement_picture_instance *pi, double x, double y) {
        size_t capacity = l->block_rows * l->blocks_per_row, total = 0, drawn = 0;

        for (size_t k = 0; k < ci->n_groups; k++)
                total += ci->groups[k].count;
        for (int pass = 0; pass < 2; pass++)
                for (size_t k = 0; k < ci->n_groups; k++) {
                        const struct placement_group_count *g = &ci->groups[k];
                        unsigned added = 0, n;

                        for (size_t a = 0; a < pi->n_added; a++)
                                if (streq(pi->added[a].group, g->group))
                                        added = pi->added[a].count;
                        added = added < g->count ? added : g->count;
                        n = pass == 0 ? added : g->count - added;
                        for (unsigned t = 0; t < n; t++, drawn++) {
                                double bx = x + (double)(drawn % l->blocks_per_row) * BLOCK_STEP;
                                double by = y + (double)(drawn / l->blocks_per_row) * BLOCK_STEP;
                                if (drawn + 1 == capacity && total > capacity) {
                                        char more[24];
                                        snprintf(more, sizeof(more), "+%zu", total - drawn);
                                        text_at(f, bx, by + 9, 9, "fill=\"#333\"", more, 40);
                                        return;
                                }
                                fprintf(f,
                                        "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.0f\" "
                                        "height=\"%.0f\" "
                                        "rx=\"2\" fill=\"%s\"%s><title>",
                                        bx, by, BLOCK, BLOCK, colour_of(l, g->group),
                                        pass == 0 ? " stroke=\"#111\" stroke-width=\"2\"" : "");
                                put_text(f, g->group, SIZE_MAX / 8);
                                fputs(pass == 0 ? " (new)</title></rect>\n" : "</title></rect>\n",
                                      f);
                        }
                }
}

/* What a box says on its last line: why it is greyed or lost, or a status
 * that is not ACTIVE. */
static const char *box_note(const struct placement_instance *ci,
                            const struct placement_picture_instance *pi) {
        if (pi->note)
                return pi->note;
        if (!streq(ci->status, "ACTIVE"))
                return ci->status;
        return ci->agent_connected ? NULL : "agent disconnected";
}

static void draw_instance(FILE *f, const struct placement_picture *p, const struct layout *l,
                          size_t i) {
        const struct placement_instance *ci = &p->c->instances[i];
        const struct placement_picture_instance *pi = &p->instances[i];
        const double w = l->box_width, h = l->box_height;
        const double x = MARGIN + (double)l->column[i] * (l->column_width + GAP) +
                         (double)(l->slot[i] % l->per_row) * (w + GAP);
        const double y = l->top + (double)(l->slot[i] / l->per_row) * (h + GAP);
        const bool lost = pi->state == PLACEMENT_PICTURE_LOST;
        const bool grey = pi->state == PLACEMENT_PICTURE_REJECTED;
        const char *note = box_note(ci, pi);

        fputs("<g>\n", f);
        tooltip(f, ci, pi);
        fprintf(f,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" rx=\"5\" fill=\"%s\" "
                "stroke=\"%s\" stroke-width=\"%s\"/>\n",
                x, y, w, h,
                lost   ? "#fdf0ef"
                : grey ? "#ececec"
                       : "#ffffff",
                lost   ? "#c0392b"
                : grey ? "#b5b5b5"
                       : "#5f6b73",
                lost ? "2" : "1");
        fprintf(f, "<g%s>\n", lost || grey ? " opacity=\"0.5\"" : "");
        text_at(f, x + 8, y + 17, 12, "font-weight=\"bold\" fill=\"#1f2328\"", type_of(ci), w - 16);
        text_at(f, x + 8, y + 32, 11, "fill=\"#444\"", label_of(ci), w - 16);
        draw_bar(f, x, y + 40, w, "CPU", ci->remaining.cpu, ci->registered.cpu, 1024, "vCPU");
        draw_bar(f, x, y + 56, w, "MEM", ci->remaining.memory, ci->registered.memory, 1024, "GiB");
        draw_blocks(f, l, ci, pi, x + 8, y + 74);
        fputs("</g>\n", f);
        if (note)
                text_at(f, x + 8, y + h - 7, 10,
                        lost ? "font-weight=\"bold\" fill=\"#c0392b\""
                             : "font-style=\"italic\" fill=\"#666\"",
                        note, w - 16);
        if (lost)
                fprintf(f,
                        "<path d=\"M%.1f %.1fL%.1f %.1fM%.1f %.1fL%.1f %.1f\" stroke=\"#c0392b\" "
                        "stroke-width=\"2\"/>\n",
                        x + 4, y + 4, x + w - 4, y + h - 4, x + w - 4, y + 4, x + 4, y + h - 4);
        fputs("</g>\n", f);
}

/* Title and notes, the notes wrapped at word boundaries. */
static void draw_header(FILE *f, const struct placement_picture *p) {
        const size_t chars = chars_in(WIDTH - 2 * MARGIN, 12);
        double y = MARGIN + 18;

        text_at(f, MARGIN, y, 18, "font-weight=\"bold\" fill=\"#1f2328\"",
                p->title ? p->title : "ecs-place", WIDTH - 2 * MARGIN);
        for (size_t k = 0; k < p->n_notes; k++) {
                const char *s = p->notes[k];
                size_t n = strlen(s);

                do {
                        size_t cut = n <= chars ? n : chars;
                        _cleanup_free_ char *line = NULL;

                        while (cut < n && cut > chars / 2 && s[cut] != ' ')
                                cut--;
                        if (cut < n && s[cut] != ' ')
                                cut = chars;
                        line = strndup(s, cut);
                        y += 17;
                        text_at(f, MARGIN, y, 12, "fill=\"#333\"", line ? line : "",
                                WIDTH - 2 * MARGIN);
                        s += cut;
                        n -= cut;
                        while (*s == ' ')
                                s++, n--;
                } while (n > 0);
        }
}

static void draw_columns(FILE *f, const struct placement_picture *p, const struct layout *l) {
        for (size_t z = 0; z < l->n_zones; z++) {
                double x = MARGIN + (double)z * (l->column_width + GAP);
                size_t usable = 0;
                char summary[96];

                for (size_t i = 0; i < p->c->n_instances; i++) {
                        const struct placement_instance *ci = &p->c->instances[i];
                        usable += l->column[i] == z &&
                                  p->instances[i].state != PLACEMENT_PICTURE_LOST &&
                                  streq(ci->status, "ACTIVE") && ci->agent_connected;
                }
                fprintf(f,
                        "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" rx=\"6\" "
                        "fill=\"#f3f5f7\"/>\n",
                        x - 4, l->header, l->column_width + 8, l->legend_top - l->header - 6);
                text_at(f, x, l->header + 18, 14, "font-weight=\"bold\" fill=\"#1f2328\"",
                        l->zones[z], l->column_width);
                snprintf(summary, sizeof(summary), "%zu container instance%s, %zu usable",
                         l->count[z], l->count[z] == 1 ? "" : "s", usable);
                text_at(f, x, l->header + 33, 11, "fill=\"#555\"", summary, l->column_width);
        }
}

/* Where the legend writes its next item, wrapping at the picture's width. */
struct flow {
        double x, y;
};

/* Make room for an item w px wide, on this line or the next. */
static void flow_room(struct flow *fl, double w) {
        if (fl->x + w > WIDTH - MARGIN && fl->x > MARGIN) {
                fl->x = MARGIN;
                fl->y += 20;
        }
}

/* A swatch (drawn by the caller at fl->x, fl->y - 10) and its words. */
static void flow_words(FILE *f, struct flow *fl, const char *words) {
        double w = 20 + (double)strlen(words) * 11 * EM + 18;

        text_at(f, fl->x + 20, fl->y, 11, "fill=\"#333\"", words, w);
        fl->x += w;
}

static void legend_marks(FILE *f, const struct placement_picture *p, struct flow *fl,
                         bool any_rejected, bool any_lost) {
        if (p->added_label) {
                flow_room(fl, 220);
                fprintf(f,
                        "<rect x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\" rx=\"2\" "
                        "fill=\"#bbb\" stroke=\"#111\" stroke-width=\"2\"/>\n",
                        fl->x + 2, fl->y - 9);
                flow_words(f, fl, p->added_label);
        }
        if (any_rejected) {
                flow_room(fl, 300);
                fprintf(f,
                        "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"12\" rx=\"2\" "
                        "fill=\"#ececec\" stroke=\"#b5b5b5\"/>\n",
                        fl->x, fl->y - 10);
                flow_words(f, fl, "rejected (hover over a box for the reason)");
        }
        if (any_lost) {
                flow_room(fl, 200);
                fprintf(f,
                        "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"12\" rx=\"2\" "
                        "fill=\"#fdf0ef\" stroke=\"#c0392b\"/><path d=\"M%.1f %.1fL%.1f %.1f\" "
                        "stroke=\"#c0392b\" stroke-width=\"2\"/>\n",
                        fl->x, fl->y - 10, fl->x + 1, fl->y + 1, fl->x + 13, fl->y - 9);
                flow_words(f, fl, "lost (struck out)");
        }
        flow_room(fl, 330);
        fprintf(f,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"7\" height=\"10\" fill=\"#5b6f82\"/>"
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"7\" height=\"10\" fill=\"#dfe5ea\"/>\n",
                fl->x, fl->y - 9, fl->x + 7, fl->y - 9);
        flow_words(f, fl, "CPU and memory: used (dark) and left (light)");
}

/* The legend; returns the y below it. */
static double draw_legend(FILE *f, const struct placement_picture *p, const struct layout *l) {
        struct flow fl = {.x = MARGIN, .y = l->legend_top + 14};
        bool any_rejected = false, any_lost = false;

        for (size_t i = 0; i < p->c->n_instances; i++) {
                any_rejected |= p->instances[i].state == PLACEMENT_PICTURE_REJECTED;
                any_lost |= p->instances[i].state == PLACEMENT_PICTURE_LOST;
        }
        legend_marks(f, p, &fl, any_rejected, any_lost);
        fl.x = MARGIN;
        fl.y += 24;
        text_at(f, fl.x, fl.y, 11, "font-weight=\"bold\" fill=\"#333\"",
                l->n_groups ? "task groups:" : "no task", 100);
        fl.x += 90;
        for (size_t g = 0; g < l->n_groups && g < LEGEND_GROUPS; g++) {
                double w = 20 + (double)fmin(40, (double)strlen(l->groups[g])) * 11 * EM + 18;
                flow_room(&fl, w);
                fprintf(f,
                        "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" rx=\"2\" "
                        "fill=\"%s\"/>\n",
                        fl.x, fl.y - 10, colour_of(l, l->groups[g]));
                text_at(f, fl.x + 18, fl.y, 11, "fill=\"#333\"", l->groups[g], w - 24);
                fl.x += w;
        }
        if (l->n_groups > LEGEND_GROUPS) {
                char more[48];
                snprintf(more, sizeof(more), "+%zu more groups", l->n_groups - LEGEND_GROUPS);
                flow_room(&fl, 140);
                text_at(f, fl.x, fl.y, 11, "fill=\"#333\"", more, 140);
        }
        return fl.y + MARGIN;
}

int placement_picture_svg(const struct placement_picture *p, char **ret) {
        _cleanup_(layout_done) struct layout l = {};
        _cleanup_free_ char *body = NULL;
        char *svg = NULL;
        size_t size = 0;
        FILE *f;
        double height;
        int k;

        k = layout(&l, p);
        if (k < 0)
                return k;
        f = open_memstream(&body, &size);
        if (!f)
                return -ENOMEM;
        draw_header(f, p);
        draw_columns(f, p, &l);
        for (size_t i = 0; i < p->c->n_instances; i++)
                if (l.column[i] != SIZE_MAX)
                        draw_instance(f, p, &l, i);
        height = ceil(draw_legend(f, p, &l));
        if (fclose(f) != 0 || !body)
                return -ENOMEM;
        if (asprintf(&svg,
                     "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                     "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                     "viewBox=\"0 0 %.0f %.0f\" " FONT ">\n"
                     "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n%s</svg>\n",
                     WIDTH, height, WIDTH, height, body) < 0)
                return -ENOMEM;
        *ret = svg; /* asprintf() leaves it undefined when it fails */
        return 0;
}
