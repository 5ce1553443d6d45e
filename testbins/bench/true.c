/* bench true: the small binary fork_exec runs. Exits 0. */
int main(void)
{
    return 0;
}
