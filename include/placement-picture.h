/* placement-picture.h: a cluster as one self-contained SVG people read at a
 * glance: zones as columns, container instances as boxes labelled with type
 * and id, bars of the CPU and memory used and left, tasks as blocks
 * coloured by group (new ones outlined), instances a step rejected greyed
 * with the reason as a tooltip (<title>), lost instances struck out, and a
 * legend.  No script, no external reference; 1,200 px wide.  Pure: the
 * caller says what each instance is, placement_picture_svg() draws it.
 * Every text from an input file is escaped (placement-escape.h) and then
 * for XML, so the document is well-formed whatever the input holds. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "placement-model.h"

enum placement_picture_state {
        PLACEMENT_PICTURE_NORMAL,   /* a candidate, or simply there */
        PLACEMENT_PICTURE_REJECTED, /* greyed: note says why */
        PLACEMENT_PICTURE_LOST,     /* struck out: note says what lost it */
        PLACEMENT_PICTURE_HIDDEN,   /* not drawn (INACTIVE: not in the cluster) */
};

struct placement_picture_instance {
        enum placement_picture_state state;
        const char *note;                    /* shown in the box and its tooltip; borrowed */
        struct placement_group_count *added; /* its new tasks, by group (outlined) */
        size_t n_added;
};

struct placement_picture {
        const struct placement_cluster *c;            /* borrowed: the state drawn */
        struct placement_picture_instance *instances; /* one per instance of c */
        char *title;
        char **notes; /* lines under the title */
        size_t n_notes;
        const char *added_label; /* the legend's words for an outlined task; borrowed */
};

/* Every instance NORMAL, except INACTIVE ones HIDDEN; no title. */
int placement_picture_new(struct placement_picture **ret, const struct placement_cluster *c);
struct placement_picture *placement_picture_free(struct placement_picture *p);

/* A line under the title (copied); the first line added is the title. */
int placement_picture_line(struct placement_picture *p, const char *text);

/* Count one new task of group on instance i (group copied). */
int placement_picture_add_task(struct placement_picture *p, size_t i, const char *group);

/* The SVG document; *ret malloc'd. */
int placement_picture_svg(const struct placement_picture *p, char **ret);
