/* SPDX-License-Identifier: MIT */
/* argv -> config -> lnk_app_run(); nothing else. */
int main(void)
{
    return 0;
}
