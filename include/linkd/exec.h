/* SPDX-License-Identifier: MIT */
/* Posting work back to the thread that owns it. A worker's event loop is an
 * executor: store threads post a finished operation's task to the origin
 * executor, and the task's `run` is called later on that executor's thread.
 * Keeps the store and events modules free of event-loop types. */
#ifndef LNK_EXEC_H
#define LNK_EXEC_H

struct lnk_task;
typedef void (*lnk_task_fn)(struct lnk_task *t);

struct lnk_task {
    void *link_[2]; /* owned by the executor while queued */
    lnk_task_fn run;
};

struct lnk_exec {
    /* Thread-safe; `t` must stay valid until t->run has been called. */
    void (*post)(struct lnk_exec *ex, struct lnk_task *t);
};

static inline void lnk_exec_post(struct lnk_exec *ex, struct lnk_task *t)
{
    ex->post(ex, t);
}

#endif
