"""检查你的作业:在这个文件夹里运行 ``pytest``。

planar.py 里的每个函数都有一个测试,分值就是它的分数。函数拿到全部分数,测试就
通过;否则测试失败,并告诉你错在哪里、是在哪个网络上发现的。每个函数可以写在
planar.py 里,也可以写在 notebook(Planar_data_classification.ipynb)里。所有
函数的得分列在最后。

你的代码在一个单独的进程里运行;期望值是测试运行时由安装好的 ``initlab`` 包
现场算出来的:这个文件夹里没有任何答案。
"""

from pathlib import Path

import pytest

from initlab.selfcheck import failure_message, verdict_for

ASSIGNMENT = "planar"
HERE = Path(__file__).parent


def test_function(function, request):
    rubric = request.config.getoption("--rubric")
    verdict = verdict_for(HERE, function, ASSIGNMENT, rubric)
    if verdict.status != "passed":
        pytest.fail(failure_message(verdict), pytrace=False)
