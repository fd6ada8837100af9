// SPDX-License-Identifier: GPL-2.0
/*
 * ABI test: our include/uapi/linux/loop.h must describe exactly the same
 * interface as the system's <linux/loop.h>.  Both headers cannot be
 * included into one translation unit (same names), so abi_ours.c and
 * abi_sys.c each build a table of {group, name, value} from the same list
 * (abi_table.h); here the tables are compared, one TAP test per group.
 */
#include <stdbool.h>
#include <string.h>

#include "abi_table.h"
#include "kselftest.h"

static bool group_seen(const struct abi_entry *tab, int upto,
		       const char *group)
{
	int i;

	for (i = 0; i < upto; i++)
		if (!strcmp(tab[i].group, group))
			return true;
	return false;
}

static int count_groups(void)
{
	int i, n = 0;

	for (i = 0; abi_ours[i].name; i++)
		if (!group_seen(abi_ours, i, abi_ours[i].group))
			n++;
	return n;
}

/* Compare one group; report each mismatching entry by name. */
static void check_group(const char *group)
{
	int i, checked = 0, bad = 0;

	for (i = 0; abi_ours[i].name; i++) {
		if (strcmp(abi_ours[i].group, group))
			continue;
		checked++;
		/* Same list on both sides, so the same index. */
		if (!abi_sys[i].name || strcmp(abi_sys[i].name,
					       abi_ours[i].name) ||
		    strcmp(abi_sys[i].group, group)) {
			ksft_print_msg("%s: table mismatch at %s\n", group,
				       abi_ours[i].name);
			bad++;
			continue;
		}
		if (abi_ours[i].value != abi_sys[i].value) {
			ksft_print_msg("%s %s: ours %llu (0x%llx), system %llu (0x%llx)\n",
				       group, abi_ours[i].name,
				       abi_ours[i].value, abi_ours[i].value,
				       abi_sys[i].value, abi_sys[i].value);
			bad++;
		}
	}
	if (bad)
		ksft_test_result_fail("%s: %d of %d facts differ\n", group,
				      bad, checked);
	else
		ksft_test_result_pass("%s (%d facts)\n", group, checked);
}

int main(void)
{
	int i;

	ksft_print_header();
	ksft_set_plan(count_groups());
	for (i = 0; abi_ours[i].name; i++)
		if (!group_seen(abi_ours, i, abi_ours[i].group))
			check_group(abi_ours[i].group);
	ksft_finished();
	return 0;
}
